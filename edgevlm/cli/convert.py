"""`edgevlm convert`."""
from __future__ import annotations

import typer

from edgevlm.cli.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, "convert", "Convert a checkpoint to an LLM GGUF + mmproj GGUF.", "the converter (issue 3)")
