"""`edgevlm bench`."""
from __future__ import annotations

import typer

from edgevlm.cli.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, "bench", "Benchmark a converted model on a device.", "device transports and bench (issue 5)")
