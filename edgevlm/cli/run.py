"""`edgevlm run`: answer a question (about an image) with the native runtime on this host, streaming."""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        model_dir: Path = typer.Argument(..., help="A folder written by `edgevlm convert`."),
        prompt: str = typer.Option(..., "-p", "--prompt", help="The question."),
        image: Path = typer.Option(None, "--image", help="PNG/JPEG to ask about (omit for text only)."),
        n_predict: int = typer.Option(128, "-n", "--n-predict", help="Most tokens to generate."),
        threads: int = typer.Option(0, "--threads", "-t", help="CPU threads (0: all)."),
        temp: float = typer.Option(0.0, "--temp", help="Sampling temperature (0: greedy)."),
        seed: int = typer.Option(0, "--seed", help="Sampling seed (with --temp > 0)."),
        timings: bool = typer.Option(False, "--timings", help="Print timings to stderr afterwards."),
    ) -> None:
        """Answer a question about an image with the native runtime on this host (streams the answer)."""
        from edgevlm.runtime.runtime import Runtime

        rt = Runtime(model_dir, threads or None)
        try:
            stream = lambda piece: typer.echo(piece, nl=False)  # noqa: E731
            result = rt.generate(prompt, image=image, max_new_tokens=n_predict, stream=stream,
                                 temperature=temp, seed=seed)
        finally:
            rt.close()
        typer.echo("")
        if timings:
            parts = ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
            typer.echo(f"{result.prompt_tokens} prompt tokens, {len(result.tokens)} generated; {parts}", err=True)
