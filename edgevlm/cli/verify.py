"""`edgevlm verify`."""
from __future__ import annotations

import typer

from edgevlm.cli.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, "verify", "Verify converted GGUF files against the PyTorch reference.", "the converter (issue 3)")
