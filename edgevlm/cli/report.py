"""`edgevlm report`: baseline vs candidate runs, per metric; exit 1 on a regression, 2 on bad or mixed input.

The runs come from the store (--baseline / --candidate refs) or from record files (--records against the
records in --baseline-dir: the repository's own dogfooding, `make test` / CI); --informational always exits 0,
saying what it found or what went wrong (shared, noisy CI machines must not fail on it)."""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from edgevlm.cli import options as opt
from edgevlm.cli.results import STORE_HELP, store_path
from edgevlm.errors import EdgeVLMError, MixedRunsError, ReportInputError
from edgevlm.report import CompareOptions, compare, parse_formats, parse_threshold, to_markdown, write_report
from edgevlm.report.records import compare_files
from edgevlm.report.summary import print_summary
from edgevlm.store import ResultsStore


REF = "ref: run id (run:N), commit prefix, or branch."
LOCAL = {
    "baseline": opt.Opt(Optional[str], None, "Baseline " + REF, ("--baseline",)),
    "candidate": opt.Opt(Optional[str], None, "Candidate " + REF, ("--candidate",)),
    "metric": opt.Opt(Optional[list[str]], None, "Only these metrics (repeatable). Default: all measured.",
                      ("--metric",)),
    "threshold": opt.Opt(str, "5%", "Practical threshold, e.g. 5% or 0.05.", ("--threshold",)),
    "window": opt.Opt(int, 5, "Baseline: the last K unthrottled like-for-like runs per row.", ("--window",)),
    "alpha": opt.Opt(float, 0.05, "Significance level of the one-sided Mann–Whitney U test on run medians.",
                     ("--alpha",)),
    "min_runs": opt.Opt(int, 3, "Fewer runs than this a side: \"insufficient runs\".", ("--min-runs",)),
    "rule": opt.Opt(str, "test", "test (threshold + U test on run medians) or consecutive (PyTorch's rule: N "
                    "consecutive candidate runs beyond the threshold).", ("--rule",)),
    "consecutive": opt.Opt(int, 2, "Runs in a row the consecutive rule needs.", ("--consecutive",)),
    "allow_mixed": opt.Opt(bool, False, "Compare runs whose hardware, threads or workload differ (the differences "
                           "are listed in the report's header).", ("--allow-mixed",)),
    "format": opt.Opt(str, "md,html,json", "Comma-separated: md, html, json.", ("--format",)),
    "out": opt.Opt(Optional[Path], None, "Folder for report.md / report.html / report.json (default: "
                   "edgevlm-report; with --records: none, the Markdown goes to stdout).", ("--out",)),
    "store": opt.Opt(Optional[str], None, STORE_HELP, ("--store",)),
    "records": opt.Opt(Optional[list[Path]], None, "Candidate: these `edgevlm bench` record files instead of a "
                       "ref (with --baseline-dir).", ("--records",)),
    "baseline_dir": opt.Opt(Optional[Path], None, "Baseline: the record files in this folder (e.g. "
                            "benchmarks/results/baseline), with --records.", ("--baseline-dir",)),
    "informational": opt.Opt(bool, False, "Always exit 0: say what was found or what went wrong instead of "
                             "failing (shared, noisy CI machines).", ("--informational",)),
}


@dataclass(frozen=True)
class ReportArgs:
    """`edgevlm report`'s options, in --help order (declared in LOCAL)."""
    baseline: str | None
    candidate: str | None
    metric: list[str] | None
    threshold: str
    window: int
    alpha: float
    min_runs: int
    rule: str
    consecutive: int
    allow_mixed: bool
    format: str
    out: Path | None
    store: str | None
    records: list[Path] | None
    baseline_dir: Path | None
    informational: bool

    def settings(self) -> CompareOptions:
        return CompareOptions(threshold=parse_threshold(self.threshold), window=self.window, alpha=self.alpha,
                              min_runs=self.min_runs, rule=self.rule, consecutive=self.consecutive,
                              allow_mixed=self.allow_mixed)


def register(app: typer.Typer) -> None:
    opt.command(app, "report", ReportArgs, LOCAL)(report_cmd)


def report_cmd(a: ReportArgs) -> None:
    """Latency regression report between two refs, or record files against a baseline folder (exit 1 on
    regression)."""
    if a.records or a.baseline_dir:
        _records_report(a.records or [], a.baseline_dir, a)
        return
    if not (a.baseline and a.candidate):
        raise ReportInputError("name --baseline and --candidate refs, or --records FILE... --baseline-dir DIR")
    out = a.out or Path("edgevlm-report")
    formats = parse_formats(a.format)
    with ResultsStore(store_path(a.store), read_only=True) as db:
        report = compare(db, a.baseline, a.candidate, a.settings(), metrics=a.metric)
    written = write_report(report, out, formats)
    print_summary(report)
    Console(stderr=True).print("wrote " + ", ".join(str(p) for p in written), highlight=False)
    if report.regressed:
        # SystemExit, not typer.Exit: in click's non-standalone mode (edgevlm.cli.main) an Exit's code is
        # returned and dropped, and CI must see 1 here.
        raise SystemExit(1)


def _records_report(records: list[Path], baseline_dir: Path | None, a: ReportArgs) -> None:
    informational = a.informational
    try:
        if not records or baseline_dir is None:
            raise ReportInputError("--records FILE... and --baseline-dir DIR go together")
        text, regressed = _records_markdown(records, baseline_dir, a.threshold, a.window, a.out)
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
