"""`edgevlm report`: baseline vs candidate, per metric; exit 1 on a regression, 2 on bad input."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from edgevlm.cli.results import STORE_HELP, store_path


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)


def report_cmd(
    baseline: str = typer.Option(..., help="Baseline ref: run id (run:N), commit prefix, or branch."),
    candidate: str = typer.Option(..., help="Candidate ref: run id (run:N), commit prefix, or branch."),
    metric: Optional[list[str]] = typer.Option(None, help="Only these metrics (repeatable). Default: all measured."),
    threshold: str = typer.Option("5%", help="Practical threshold, e.g. 5% or 0.05."),
    window: int = typer.Option(5, help="Pool the last K unthrottled baseline runs per row."),
    alpha: float = typer.Option(0.05, help="Significance level of the one-sided Mann–Whitney U test."),
    format: str = typer.Option("md,html,json", "--format", help="Comma-separated: md, html, json."),
    out: Path = typer.Option(Path("edgevlm-report"), help="Folder for report.md / report.html / report.json."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Latency regression report between two refs (exit 1 on regression)."""
    from edgevlm.report import compare, parse_formats, parse_threshold, write_report
    from edgevlm.store import ResultsStore

    formats = parse_formats(format)
    with ResultsStore(store_path(store), create=False) as db:
        report = compare(db, baseline, candidate, metrics=metric, threshold=parse_threshold(threshold),
                         window=window, alpha=alpha)
    written = write_report(report, out, formats)
    print_summary(report)
    Console(stderr=True).print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    if report.regressed:
        # SystemExit, not typer.Exit: in click's non-standalone mode (edgevlm.cli.main) an Exit's code is
        # returned and dropped, and CI must see 1 here.
        raise SystemExit(1)


def print_summary(report) -> None:
    """A compact table for the terminal (the files hold every column)."""
    from edgevlm.report.table import rows

    colours = {"regression": "bold red", "improvement": "green", "noisy": "yellow"}
    table = Table(title=report.summary_line(), title_justify="left")
    for h in ("status", "device / model quant workload", "metric", "baseline", "candidate", "change", "p", "n b/c"):
        table.add_column(h)
    for r in rows(report):
        status, device, model, quant, workload, metric, base, cand, change, p, n, _ = r
        table.add_row(status, f"{device} / {model} {quant} {workload}", metric.split(" ")[0], base, cand, change,
                      p, n, style=colours.get(status))
    Console().print(table)
