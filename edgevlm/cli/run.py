"""`edgevlm run`: answer a question (about an image) with the native runtime on this host, or with
`--device NAME` on a phone / Jetson (pushed once per content hash), streaming."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import typer

from edgevlm.bench.ask import Question, ask_device, check_question, timing_line
from edgevlm.bench.bounds import check_temperature
from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.sink import check_writable
from edgevlm.cli import options as opt
from edgevlm.files import write_text
from edgevlm.progress import err_console
from edgevlm.runtime.runtime import Runtime


LOCAL = {
    "prompt": opt.Opt(str, ..., "The question.", ("-p", "--prompt")),
    "image": opt.OPTIONS["image"].but(help=opt.OPTIONS["image"].help + " (omit for text only)"),
    "n_predict": opt.Opt(int, 128, "Most tokens to generate.", ("-n", "--n-predict"), min=0),
    "timings": opt.Opt(bool, False, "Print timings to stderr afterwards.", ("--timings",)),
}


@dataclass(frozen=True)
class RunArgs:
    """`edgevlm run`'s options, in --help order (declared in LOCAL, else in cli/options.py)."""
    model_dir: Path
    prompt: str
    image: Path | None
    n_predict: int
    threads: int
    temp: float
    seed: int
    timings: bool
    device: str | None
    serial: str | None
    host: str | None
    bundle_dir: Path | None
    quant: str | None
    json_file: Path | None
    wait: bool

    def request(self) -> DeviceRequest:
        return DeviceRequest(self.device, self.model_dir, serial=self.serial, host=self.host, quant=self.quant,
                             bundle_dir=self.bundle_dir, threads=self.threads, image=self.image, wait=self.wait)


def register(app: typer.Typer) -> None:
    opt.command(app, "run", RunArgs, LOCAL)(run)


def run(a: RunArgs) -> None:
    """Answer a question about an image with the native runtime (streams the answer)."""
    question = Question(a.prompt, n_predict=a.n_predict, temp=check_temperature(a.temp), seed=a.seed)
    if a.device:
        _on_device(a.request(), question, a.json_file)
        return
    _on_host(a.model_dir, question, a.image, a.threads, a.timings)


def _on_host(model_dir: Path, question, image: Path | None, threads: int, timings: bool) -> None:
    check_question(model_dir, None, question, with_image=image is not None)
    rt = Runtime(model_dir, threads or None)
    try:
        stream = lambda piece: typer.echo(piece, nl=False)  # noqa: E731
        result = rt.generate(question.prompt, image=image, max_new_tokens=question.n_predict, stream=stream,
                             temperature=question.temp, seed=question.seed)
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


def _on_device(req, question, json_file: Path | None) -> None:
    if json_file is not None:                 # checked before the device is touched: the answer is not lost
        check_writable(json_file.absolute().parent, f"--json {json_file}")
    answer = ask_device(req, question, on_text=lambda text: typer.echo(text, nl=False),
                        warn=lambda line: err_console.print(f"[yellow]{line}[/]", highlight=False))
    pushed = answer.pushed
    err_console.print(f"{req.device}: {timing_line(answer.record)}; pushed {pushed.pushed} files "
                      f"({pushed.bytes_pushed / 1e6:.1f} MB), {pushed.skipped} already there", highlight=False)
    if json_file:
        write_text(json_file, json.dumps(answer.record, indent=2) + "\n")
