"""`edgevlm devices`."""
from __future__ import annotations

import typer

from edgevlm.cli.pending import register_pending


def register(app: typer.Typer) -> None:
    register_pending(app, "devices", "List connected devices with their fingerprints.", "device transports (issue 5)")
