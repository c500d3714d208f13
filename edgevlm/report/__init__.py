"""Latency regression reports: the run is the unit of evidence (run medians, threshold + exact Mann–Whitney U,
or PyTorch's consecutive-runs rule), like compared with like (edgevlm.fingerprint); Markdown, HTML, JSON.

    from edgevlm.report import compare, write_report
    report = compare(store, "main", "3f2a9c1", threshold=0.05, window=5, min_runs=3)
    write_report(report, "edgevlm-report", ["md", "html", "json"])
    exit_code = 1 if report.regressed else 0
"""
from edgevlm.errors import MixedRunsError, ReportInputError
from edgevlm.report.compare import CompareOptions, compare
from edgevlm.report.html import to_html
from edgevlm.report.markdown import to_markdown
from edgevlm.report.model import GroupResult, Report
from edgevlm.report.stats import Judgement, judge
from edgevlm.report.write import parse_formats, parse_threshold, write_report

__all__ = ["compare", "CompareOptions", "Report", "GroupResult", "Judgement", "judge", "to_markdown", "to_html", "write_report",
           "parse_formats", "parse_threshold", "ReportInputError", "MixedRunsError"]
