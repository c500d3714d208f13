"""`edgevlm report`: baseline vs candidate runs, per metric; exit 1 on a regression, 2 on bad or mixed input."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from edgevlm.cli.results import STORE_HELP, store_path
from edgevlm.report.summary import print_summary


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)


def report_cmd(
    baseline: str = typer.Option(..., help="Baseline ref: run id (run:N), commit prefix, or branch."),
    candidate: str = typer.Option(..., help="Candidate ref: run id (run:N), commit prefix, or branch."),
    metric: Optional[list[str]] = typer.Option(None, help="Only these metrics (repeatable). Default: all measured."),
    threshold: str = typer.Option("5%", help="Practical threshold, e.g. 5% or 0.05."),
    window: int = typer.Option(5, help="Baseline: the last K unthrottled like-for-like runs per row."),
    alpha: float = typer.Option(0.05, help="Significance level of the one-sided Mann–Whitney U test on run medians."),
    min_runs: int = typer.Option(3, "--min-runs", help="Fewer runs than this a side: \"insufficient runs\"."),
    rule: str = typer.Option("test", help="test (threshold + U test on run medians) or consecutive (PyTorch's "
                             "rule: N consecutive candidate runs beyond the threshold)."),
    consecutive: int = typer.Option(2, help="Runs in a row the consecutive rule needs."),
    allow_mixed: bool = typer.Option(False, "--allow-mixed", help="Compare runs whose hardware, threads or "
                                     "workload differ (the differences are listed in the report's header)."),
    format: str = typer.Option("md,html,json", "--format", help="Comma-separated: md, html, json."),
    out: Path = typer.Option(Path("edgevlm-report"), help="Folder for report.md / report.html / report.json."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Latency regression report between two refs (exit 1 on regression)."""
    from edgevlm.report import compare, parse_formats, parse_threshold, write_report
    from edgevlm.store import ResultsStore

    formats = parse_formats(format)
    with ResultsStore(store_path(store), read_only=True) as db:
        report = compare(db, baseline, candidate, metrics=metric, threshold=parse_threshold(threshold),
                         window=window, alpha=alpha, min_runs=min_runs, rule=rule, consecutive=consecutive,
                         allow_mixed=allow_mixed)
    written = write_report(report, out, formats)
    print_summary(report)
    Console(stderr=True).print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    if report.regressed:
        # SystemExit, not typer.Exit: in click's non-standalone mode (edgevlm.cli.main) an Exit's code is
        # returned and dropped, and CI must see 1 here.
        raise SystemExit(1)
