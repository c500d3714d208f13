"""`edgevlm bench --device NAME MODEL_DIR`: measure a converted model on a device, store every raw sample."""
from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from edgevlm.progress import console, err_console, progress_bar


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench_cmd(
        model_dir: Path = typer.Argument(..., help="converted model folder (edgevlm convert output)"),
        device: str = typer.Option(..., "--device", help="device profile name (devices/*.toml, ~/.config/edgevlm/devices)"),
        serial: str = typer.Option(None, "--serial", help="adb serial (default: the profile's, or the only device)"),
        host: str = typer.Option(None, "--host", help="ssh [user@]host (default: the profile's)"),
        image: Path = typer.Option(None, "--image", help="image to ask about (default: a built-in 336x336 picture)"),
        no_image: bool = typer.Option(False, "--no-image", help="text only: no image, no ViT"),
        bundle_dir: Path = typer.Option(None, "--bundle", help="an already built bundle (any folder written by "
                                        "`edgevlm build`) instead of the profile target's"),
        repeat: int = typer.Option(5, "--repeat", min=1, help="measured repetitions"),
        warmup: int = typer.Option(1, "--warmup", min=0, help="warm-up runs, not measured"),
        threads: int = typer.Option(0, "--threads", min=0, help="threads (default: the profile's)"),
        prompt_tokens: int = typer.Option(246, "--prompt-tokens", min=1,
                                          help="exactly this many prompt tokens, image tokens included"),
        gen: int = typer.Option(128, "--gen", min=1, help="tokens to generate"),
        quant: str = typer.Option(None, "--quant", help="which LLM quant in MODEL_DIR (when several)"),
        with_stock: bool = typer.Option(False, "--with-stock", help="also run stock llama-bench / llama-mtmd-cli"),
        store: str = typer.Option(None, "--store",
                                  help="results store: SQLite file or postgresql:// URL (default: $EDGEVLM_STORE)"),
        json_file: Path = typer.Option(None, "--json", help="also write the records to this JSON file"),
    ) -> None:
        """Warm-up + N runs of edgevlm-run on a device; temperatures, throttling, raw samples into the store."""
        from edgevlm.bench.runner import BenchSpec
        from edgevlm.bench.session import bench_device
        from edgevlm.errors import DeviceError

        spec = BenchSpec(repeat=repeat, warmup=warmup, threads=threads, prompt_tokens=prompt_tokens, gen=gen)
        with progress_bar() as progress:
            result = bench_device(device, model_dir, spec=spec, image=image, no_image=no_image, serial=serial,
                                  host=host, quant=quant, with_stock=with_stock, progress=progress,
                                  bundle_dir=bundle_dir, warn=lambda line: err_console.print(f"[yellow]{line}[/]"))
        if result.records:
            _save(result.records, store, json_file)
            _show(result.records, device)
        if result.error:
            raise DeviceError(f"bench stopped: {result.error}",
                              hint="the runs measured before the fault were stored, marked partial")


def _save(records, store: str | None, json_file: Path | None) -> None:
    from edgevlm.paths import default_store_path
    from edgevlm.store import ResultsStore

    path = store or default_store_path()
    with ResultsStore(path) as db:
        ids = db.add_runs(records)
        where = db.path
    err_console.print(f"stored runs {', '.join(map(str, ids))} in {where}")
    if json_file:
        tmp = json_file.with_name(f"{json_file.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps([r.to_dict() for r in records], indent=2) + "\n")
        os.replace(tmp, json_file)


def _show(records, device: str) -> None:
    from statistics import median

    from edgevlm.bench.published import CAPTION, published_rows
    from edgevlm.store.metrics import METRICS

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
