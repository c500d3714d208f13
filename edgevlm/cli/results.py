"""`edgevlm results import|list|export`: the results store from the command line."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from edgevlm.errors import StoreError
from edgevlm.files import check_output_file, write_text
from edgevlm.paths import default_store_path
from edgevlm.progress import progress_bar
from edgevlm.store import ResultsStore
from edgevlm.store.copy import copy_runs
from edgevlm.store.export import export_text
from edgevlm.store.importing import Overrides, import_files

STORE_HELP = ("Results store: a SQLite file, or postgresql://user@host/db for a shared (lab) store. "
              "Default: $EDGEVLM_STORE or ~/.local/share/edgevlm/results.sqlite.")
StoreOpt = typer.Option(None, "--store", help=STORE_HELP)


def store_path(store: Optional[str]) -> str | Path:
    """The --store value as given (a URL must stay a string: Path would fold its //), else the default."""
    return store if store is not None else default_store_path()


def register(app: typer.Typer) -> None:
    results = typer.Typer(help="Import, list and export benchmark results.", no_args_is_help=True)
    results.command("import")(import_cmd)
    results.command("list")(list_cmd)
    results.command("export")(export_cmd)
    results.command("migrate")(migrate_cmd)
    app.add_typer(results, name="results")


def import_cmd(
    files: list[Path] = typer.Argument(..., help="edgevlm bench records (one or a list) or llama-bench -o json/jsonl"),
    store: Optional[str] = StoreOpt,
    device: Optional[str] = typer.Option(None, help="Device name for llama-bench results (default: its cpu_info)."),
    commit: Optional[str] = typer.Option(None, help="Project commit for llama-bench results (default: build_commit)."),
    branch: str = typer.Option("", help="Branch for llama-bench results."),
) -> None:
    """Import result files: all are validated first, then written in one transaction (all or nothing)."""
    with ResultsStore(store_path(store)) as db:
        ids, loaded = import_files(db, list(files), Overrides(device, commit, branch))
    console = Console()
    for f in loaded:
        for note in f.skipped:
            console.print(f"[yellow]note:[/] {note}", highlight=False)
        if f.already:
            console.print(f"[yellow]note:[/] {f.path}: {len(f.already)} run(s) already stored (same content, "
                          f"ids {', '.join(map(str, f.already[:10]))}{'…' if len(f.already) > 10 else ''}); "
                          "stored nothing for them", highlight=False)
    span = f" (ids {ids[0]}–{ids[-1]})" if ids else ""
    console.print(f"imported {len(ids)} run(s) from {len(loaded)} file(s){span} into {db.path}", highlight=False)


def list_cmd(
    store: Optional[str] = StoreOpt,
    ref: Optional[str] = typer.Option(None, help="Only runs of this run id, commit prefix or branch."),
    device: Optional[str] = typer.Option(None, help="Only this device."),
    limit: int = typer.Option(50, min=1, max=1_000_000, help="Newest N runs."),
) -> None:
    """List runs, newest first."""
    with ResultsStore(store_path(store), read_only=True) as db:
        runs = db.resolve_ref(ref) if ref else db.runs(device=device, limit=limit)
        runs = [r for r in runs if device is None or r.record.device_name == device][:limit]
        counts = {r.id: db.samples(r.id) for r in runs}
        where = db.path
    table = Table(title=f"{len(runs)} run(s) in {where}")
    for col in ("id", "created", "commit", "branch", "source", "device", "model", "quant", "workload", "threads",
                "flags", "samples"):
        table.add_column(col)
    for run in runs:
        r = run.record
        flags = ",".join(f for f, on in (("throttled", r.throttled), ("partial", r.partial)) if on)
        samples = " ".join(f"{m}×{len(v)}" for m, v in counts[run.id].items())
        table.add_row(str(run.id), r.created[:19], r.commit[:10], r.branch, r.source, r.device_name, r.model_name,
                      r.quant, r.workload, "" if r.threads is None else str(r.threads), flags, samples)
    Console().print(table)


def export_cmd(
    format: str = typer.Option("json", "--format", help="json (edgevlm records, re-importable) or csv (one row per sample)."),
    out: Optional[Path] = typer.Option(None, help="Output file (default: stdout)."),
    store: Optional[str] = StoreOpt,
    ref: Optional[str] = typer.Option(None, help="Only runs of this run id, commit prefix or branch."),
) -> None:
    """Export runs with every raw sample."""
    if out is not None:
        check_output_file(out)
    with ResultsStore(store_path(store), read_only=True) as db:
        runs = db.resolve_ref(ref) if ref else db.runs()
        runs = db.runs(ids=[r.id for r in runs], with_samples=True)
    text = export_text(runs, format)
    if out is None:
        typer.echo(text, nl=False)
        return
    write_text(out, text)



def migrate_cmd(
    source: Path = typer.Option(..., "--from", help="The SQLite store to copy (read, never changed)."),
    target: str = typer.Option(..., "--to", help="The store to copy into, e.g. postgresql://user@host/db."),
) -> None:
    """Copy every run of a single-host SQLite store into another store (a lab's PostgreSQL). Runs already
    copied are skipped, so running it again copies only what is new."""
    with ResultsStore(source, read_only=True) as src, ResultsStore(target) as dst:
        if src.location == dst.location:
            raise StoreError(f"--from and --to are the same store ({src.path})")
        with progress_bar() as progress:
            copied, skipped = copy_runs(src, dst, progress)
        Console().print(f"copied {copied} run(s) from {src.path} into {dst.path}"
                        + (f"; {skipped} were there already" if skipped else ""), highlight=False)
