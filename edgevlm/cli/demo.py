"""`edgevlm demo`: the main job on built-in defaults (see edgevlm/demo.py)."""
from __future__ import annotations

from pathlib import Path

import typer

from edgevlm.demo import run_demo


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="working folder for the demo's files"),
        preset: str = typer.Option("tiny-v2", help="synthetic MobileVLM preset"),
    ) -> None:
        """Run the whole pipeline on a synthetic MobileVLM: synth → reference answer (more stages as they land)."""
        run_demo(out, preset=preset)
