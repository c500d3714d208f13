"""`edgevlm run`: answer a question (about an image) with the native runtime on this host, or with
`--device NAME` on a phone / Jetson (pushed once per content hash), streaming."""
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
        device: str = typer.Option(None, "--device", help="Run on this device profile (devices/*.toml) instead."),
        serial: str = typer.Option(None, "--serial", help="adb serial (with --device)."),
        host: str = typer.Option(None, "--host", help="ssh [user@]host (with --device)."),
        bundle_dir: Path = typer.Option(None, "--bundle", help="An already built bundle (with --device)."),
        quant: str = typer.Option(None, "--quant", help="Which LLM quant in MODEL_DIR (when several)."),
        json_file: Path = typer.Option(None, "--json", help="Write edgevlm-run's record here (with --device)."),
    ) -> None:
        """Answer a question about an image with the native runtime (streams the answer)."""
        if device:
            _on_device(device, model_dir, prompt, image, n_predict, threads, temp, seed, serial, host, bundle_dir,
                       quant, json_file)
            return
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
            t = result.timings
            parts = ", ".join(f"{k} {v:.1f}" for k, v in t.items())
            typer.echo(f"{result.prompt_tokens} prompt tokens, {len(result.tokens)} generated; {parts}", err=True)
            # one question in one process: the user waits for the load too
            typer.echo(f"time to first token {t['load_ms'] + t['ttft_ms']:.0f} ms (load {t['load_ms']:.0f} ms "
                       f"included); peak RSS {t['peak_rss_mb']:.0f} MiB, peak anonymous {t['peak_anon_mb']:.0f} MiB, "
                       f"peak file-backed {t['peak_file_mb']:.0f} MiB", err=True)


def _on_device(device, model_dir, prompt, image, n_predict, threads, temp, seed, serial, host, bundle_dir, quant,
               json_file) -> None:
    import json
    import os

    from edgevlm.bench.ask import ask_device, timing_line
    from edgevlm.progress import err_console

    answer = ask_device(device, model_dir, prompt, image=image, n_predict=n_predict, temp=temp, seed=seed,
                        threads=threads, serial=serial, host=host, quant=quant, bundle_dir=bundle_dir,
                        on_text=lambda text: typer.echo(text, nl=False),
                        warn=lambda line: err_console.print(f"[yellow]{line}[/]"))
    pushed = answer.ready.dep.pushed
    err_console.print(f"{device}: {timing_line(answer.record)}; pushed {pushed.pushed} files "
                      f"({pushed.bytes_pushed / 1e6:.1f} MB), {pushed.skipped} already there", highlight=False)
    if json_file:
        tmp = json_file.with_name(f"{json_file.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(answer.record, indent=2) + "\n")
        os.replace(tmp, json_file)
