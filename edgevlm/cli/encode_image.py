"""`edgevlm encode-image`."""
from __future__ import annotations

import typer

from edgevlm.cli.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, "encode-image", "Encode an image to 144 LLM-width embeddings with the native vision encoder.", "the native runtime (issue 4)")
