"""`edgevlm bench --device NAME MODEL_DIR`: measure a converted model on a device, store every raw sample.

Nothing measured is lost: the store and the --json file are opened and checked before the first repetition; a
store that fails afterwards gets a spool file instead (its path is printed with the `edgevlm results import`
that stores it); an interrupt (Ctrl-C, SIGTERM, SIGHUP) stores the runs finished, marked partial, then exits
128 + the signal (130 for Ctrl-C).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import typer
from rich.table import Table

from edgevlm.bench.published import CAPTION, published_rows
from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.runner import BenchSpec
from edgevlm.bench.session import bench_device
from edgevlm.bench.sink import Sink
from edgevlm.cli import options as opt
from edgevlm.errors import DeviceError, EdgeVLMError
from edgevlm.progress import console, err_console, progress_bar
from edgevlm.serve.warm import warm_bench
from edgevlm.store.metrics import METRICS


LOCAL = {
    "device": opt.OPTIONS["device"].but(default=...),
    "image": opt.OPTIONS["image"].but(help=opt.OPTIONS["image"].help + " (default: a built-in 336x336 picture)"),
    "no_image": opt.Opt(bool, False, "text only: no image, no ViT", ("--no-image",)),
    "repeat": opt.Opt(int, 5, "measured repetitions", ("--repeat",), min=1),
    "warmup": opt.Opt(int, 1, "warm-up runs, not measured", ("--warmup",), min=0),
    "prompt_tokens": opt.Opt(int, 246, "exactly this many prompt tokens, image tokens included",
                             ("--prompt-tokens",), min=1),
    "gen": opt.Opt(int, 128, "tokens to generate", ("--gen",), min=1),
    "with_stock": opt.Opt(bool, False, "also run stock llama-bench / llama-mtmd-cli", ("--with-stock",)),
    "warm": opt.Opt(bool, False, "through edgevlm serve, the model kept loaded: time to first token of a question "
                    "about a new image and of a follow-up about the same image", ("--warm",)),
}


@dataclass(frozen=True)
class BenchArgs:
    """`edgevlm bench`'s options, in --help order (declared in LOCAL, else in cli/options.py)."""
    model_dir: Path
    device: str
    serial: str | None
    host: str | None
    image: Path | None
    no_image: bool
    bundle_dir: Path | None
    repeat: int
    warmup: int
    threads: int
    prompt_tokens: int
    gen: int
    quant: str | None
    with_stock: bool
    store: str | None
    json_file: Path | None
    wait: bool
    warm: bool

    def request(self) -> DeviceRequest:
        return DeviceRequest(self.device, self.model_dir, serial=self.serial, host=self.host, quant=self.quant,
                             bundle_dir=self.bundle_dir, threads=self.threads, image=self.image,
                             no_image=self.no_image, wait=self.wait)

    def spec(self) -> BenchSpec:
        return BenchSpec(repeat=self.repeat, warmup=self.warmup, prompt_tokens=self.prompt_tokens, gen=self.gen)


def register(app: typer.Typer) -> None:
    opt.command(app, "bench", BenchArgs, LOCAL)(bench_cmd)


def bench_cmd(a: BenchArgs) -> None:
    """Warm-up + N runs of edgevlm-run on a device; temperatures, throttling, raw samples into the store."""
    req, spec = a.request(), a.spec()
    warn = lambda line: err_console.print(f"[yellow]{line}[/]", highlight=False)  # noqa: E731
    if a.warm:
        _warm(req, spec, a, warn)
        return
    with Sink.open(a.store, a.json_file) as sink:           # before any work: a bad store costs no measurement
        with progress_bar() as progress:
            result = bench_device(req, spec, with_stock=a.with_stock, progress=progress, warn=warn)
        if result.records:
            err_console.print(sink.save(result.records), highlight=False)
            _show(result.records, a.device)
    if result.interrupted:
        kept = "the runs finished were stored, marked partial" if result.records else "no run had finished"
        err_console.print(f"interrupted: {result.error}; {kept}", highlight=False)
        sys.exit(exit_code_of(result.interrupted))
    if result.error:
        raise DeviceError(f"bench stopped: {result.error}",
                          hint="the runs measured before the fault were stored, marked partial")


def _warm(req: DeviceRequest, spec: BenchSpec, a: BenchArgs, warn) -> None:
    """`bench --warm`: one record of warm samples from edgevlm serve (edgevlm.serve.warm)."""
    if a.with_stock:
        raise EdgeVLMError("--warm measures edgevlm-serve only", hint="benchmarks/serve.py compares it with "
                           "llama-server; drop --with-stock")
    with Sink.open(a.store, a.json_file) as sink:
        with progress_bar() as progress:
            record = warm_bench(req, spec, progress=progress, warn=warn)
        err_console.print(sink.save([record]), highlight=False)
        _show([record], req.device)


def exit_code_of(signum: int) -> int:
    return 128 + signum


def _show(records, device: str) -> None:
    table = Table(title="bench (median of the measured runs)")
    for column in ("source", "workload", "metric", "median", "unit", "n", "flags"):
        table.add_column(column, overflow="fold")   # a workload label is never cut: it says what ran
    for record in records:
        flags = " ".join(f for f, on in (("partial", record.partial), ("throttled", record.throttled)) if on)
        for metric, values in record.samples.items():
            if values:
                table.add_row(record.source, record.workload, metric, f"{median(values):.2f}",
                              METRICS[metric].unit, str(len(values)), flags)
    for row in published_rows(device):           # never stored: figures from the papers, labelled as such
        table.add_row(*row, style="dim")
        table.caption = CAPTION
    console.print(table)

