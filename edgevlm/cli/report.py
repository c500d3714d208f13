"""`edgevlm report`: baseline vs candidate runs, per metric; exit 1 on a regression, 2 on bad or mixed input.

The runs come from the store (--baseline / --candidate refs) or from record files (--records against the
records in --baseline-dir: the repository's own dogfooding, `make test` / CI); --informational always exits 0,
saying what it found or what went wrong (shared, noisy CI machines must not fail on it)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from edgevlm.cli.results import STORE_HELP, store_path
from edgevlm.errors import EdgeVLMError, MixedRunsError, ReportInputError
from edgevlm.report import compare, parse_formats, parse_threshold, to_markdown, write_report
from edgevlm.report.records import compare_files
from edgevlm.report.summary import print_summary
from edgevlm.store import ResultsStore


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)


def report_cmd(
    baseline: Optional[str] = typer.Option(None, help="Baseline ref: run id (run:N), commit prefix, or branch."),
    candidate: Optional[str] = typer.Option(None, help="Candidate ref: run id (run:N), commit prefix, or branch."),
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
    out: Optional[Path] = typer.Option(None, help="Folder for report.md / report.html / report.json (default: "
                                       "edgevlm-report; with --records: none, the Markdown goes to stdout)."),
    store: Optional[str] = typer.Option(None, "--store", help=STORE_HELP),
    records: Optional[list[Path]] = typer.Option(None, "--records", help="Candidate: these `edgevlm bench` "
                                                 "record files instead of a ref (with --baseline-dir)."),
    baseline_dir: Optional[Path] = typer.Option(None, "--baseline-dir", help="Baseline: the record files in "
                                                "this folder (e.g. benchmarks/results/baseline), with --records."),
    informational: bool = typer.Option(False, "--informational", help="Always exit 0: say what was found or "
                                       "what went wrong instead of failing (shared, noisy CI machines)."),
) -> None:
    """Latency regression report between two refs, or record files against a baseline folder (exit 1 on
    regression)."""
    if records or baseline_dir:
        _records_report(records or [], baseline_dir, threshold, window, out, informational)
        return
    if not (baseline and candidate):
        raise ReportInputError("name --baseline and --candidate refs, or --records FILE... --baseline-dir DIR")
    out = out or Path("edgevlm-report")
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


def _records_report(records: list[Path], baseline_dir: Path | None, threshold: str, window: int,
                    out: Path | None, informational: bool) -> None:
    try:
        if not records or baseline_dir is None:
            raise ReportInputError("--records FILE... and --baseline-dir DIR go together")
        text, regressed = _records_markdown(records, baseline_dir, threshold, window, out)
        print(text)
    except MixedRunsError as exc:  # the committed baseline was measured on another machine or with other settings
        if not informational:
            raise
        print(f"edgevlm CI report: the committed baseline is not like this run, nothing compared: {exc}")
        return
    except EdgeVLMError as exc:
        if not informational:
            raise
        print(f"edgevlm CI report not produced: {exc}")
        return
    except Exception:  # a bug in edgevlm itself: shown loudly, still informational
        if not informational:
            raise
        import traceback

        traceback.print_exc()
        print("edgevlm CI report not produced: internal error (traceback on stderr)")
        return
    if regressed and not informational:
        raise SystemExit(1)


def _records_markdown(records: list[Path], baseline_dir: Path, threshold: str, window: int,
                      out: Path | None) -> tuple[str, bool]:
    report = compare_files(records, baseline_dir, threshold=parse_threshold(threshold), window=window)
    if report is None:
        return (f"edgevlm CI report: no baseline records in {baseline_dir} yet; nothing to compare "
                f"(commit real `edgevlm bench` records there to enable this report)."), False
    if out is not None:
        write_report(report, out, ["md", "html", "json"])
    return to_markdown(report), report.regressed
