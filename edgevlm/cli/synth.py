"""`edgevlm synth`."""
from __future__ import annotations

import typer

from edgevlm.cli.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, "synth", "Write a random-weight MobileVLM checkpoint in the exact HF layout.",
                     "the synthetic checkpoint writer (issue 2)")
