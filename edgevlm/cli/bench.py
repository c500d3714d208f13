"""`edgevlm bench --device NAME MODEL_DIR`: measure a converted model on a device, store every raw sample.

Nothing measured is lost: the store and the --json file are opened and checked before the first repetition; a
store that fails afterwards gets a spool file instead (its path is printed with the `edgevlm results import`
that stores it); an interrupt (Ctrl-C, SIGTERM, SIGHUP) stores the runs finished, marked partial, then exits
128 + the signal (130 for Ctrl-C).
"""
from __future__ import annotations

import sys
from pathlib import Path

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


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench_cmd(
        model_dir: Path = opt.model_dir(),
        device: str = opt.device(...),
        serial: str = opt.serial(),
        host: str = opt.host(),
        image: Path = opt.image(" (default: a built-in 336x336 picture)"),
        no_image: bool = typer.Option(False, "--no-image", help="text only: no image, no ViT"),
        bundle_dir: Path = opt.bundle(),
        repeat: int = typer.Option(5, "--repeat", min=1, help="measured repetitions"),
        warmup: int = typer.Option(1, "--warmup", min=0, help="warm-up runs, not measured"),
        threads: int = opt.threads(),
        prompt_tokens: int = typer.Option(246, "--prompt-tokens", min=1,
                                          help="exactly this many prompt tokens, image tokens included"),
        gen: int = typer.Option(128, "--gen", min=1, help="tokens to generate"),
        quant: str = opt.quant(),
        with_stock: bool = typer.Option(False, "--with-stock", help="also run stock llama-bench / llama-mtmd-cli"),
        store: str = opt.store(),
        json_file: Path = opt.json_out(),
        wait: bool = opt.wait(),
        warm: bool = typer.Option(False, "--warm", help="through edgevlm serve, the model kept loaded: time to first "
                                  "token of a question about a new image and of a follow-up about the same image"),
    ) -> None:
        """Warm-up + N runs of edgevlm-run on a device; temperatures, throttling, raw samples into the store."""
        req = DeviceRequest(device, model_dir, serial=serial, host=host, quant=quant, bundle_dir=bundle_dir,
                            threads=threads, image=image, no_image=no_image, wait=wait)
        spec = BenchSpec(repeat=repeat, warmup=warmup, prompt_tokens=prompt_tokens, gen=gen)
        warn = lambda line: err_console.print(f"[yellow]{line}[/]", highlight=False)  # noqa: E731
        if warm:
            _warm(req, spec, with_stock, store, json_file, warn)
            return
        with Sink.open(store, json_file) as sink:           # before any work: a bad store costs no measurement
            with progress_bar() as progress:
                result = bench_device(req, spec, with_stock=with_stock, progress=progress, warn=warn)
            if result.records:
                err_console.print(sink.save(result.records), highlight=False)
                _show(result.records, device)
        if result.interrupted:
            kept = "the runs finished were stored, marked partial" if result.records else "no run had finished"
            err_console.print(f"interrupted: {result.error}; {kept}", highlight=False)
            sys.exit(exit_code_of(result.interrupted))
        if result.error:
            raise DeviceError(f"bench stopped: {result.error}",
                              hint="the runs measured before the fault were stored, marked partial")


def _warm(req, spec, with_stock: bool, store, json_file, warn) -> None:
    """`bench --warm`: one record of warm samples from edgevlm serve (edgevlm.serve.warm)."""
    if with_stock:
        raise EdgeVLMError("--warm measures edgevlm-serve only", hint="benchmarks/serve.py compares it with "
                           "llama-server; drop --with-stock")
    with Sink.open(store, json_file) as sink:
        with progress_bar() as progress:
            record = warm_bench(req, spec, progress=progress, warn=warn)
        err_console.print(sink.save([record]), highlight=False)
        _show([record], req.device)


def exit_code_of(signum: int) -> int:
    return 128 + signum


def _show(records, device: str) -> None:
    from statistics import median

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

