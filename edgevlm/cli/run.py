"""`edgevlm run`."""
from __future__ import annotations

import typer

from edgevlm.cli.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, "run", "Answer a question about an image with the native runtime on this host.", "the native runtime (issue 4)")
