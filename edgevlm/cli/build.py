"""`edgevlm build`: the pinned llama.cpp + edgevlm native code for a target."""
from __future__ import annotations

import typer
from rich.table import Table

from edgevlm.progress import console, progress_bar


def register(app: typer.Typer) -> None:
    @app.command("build")
    def build_cmd(
        target: str = typer.Option("host", "--target", help="host | android-arm64 | jetson-orin"),
        jobs: int = typer.Option(None, "--jobs", "-j", help="parallel compile jobs (default: all cores)"),
    ) -> None:
        """Build the pinned llama.cpp (shared libs + stock tools) and edgevlm's native runtime for a target."""
        from edgevlm.build.cmake import build

        with progress_bar() as progress:
            result = build(target, jobs=jobs, progress=progress)
        table = Table(title=f"build: {result.target}", show_header=False)
        table.add_row("binaries", str(result.bin_dir))
        for key in ("llama_cpp_commit", "compiler", "build_type", "last_build_seconds"):
            table.add_row(key, str(result.info.get(key, "")))
        console.print(table)
