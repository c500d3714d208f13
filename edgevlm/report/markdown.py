"""Markdown fit for a GitHub job summary or PR comment: a one-line summary, then the verdict table."""
from __future__ import annotations

from edgevlm.report.model import Report
from edgevlm.report.table import HEADERS, rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: Report) -> str:
    lines = [f"**edgevlm report — {report.summary_line()}**", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in rows(report):
        status = f"**{r[0]}**" if r[0] == "regression" else r[0]
        lines.append("| " + " | ".join(_cell(c) for c in (status, *r[1:])) + " |")
    lines += ["", f"Medians of raw samples; baseline = the last {report.window} unthrottled baseline runs per row. "
              f"A regression needs a change of at least {report.threshold:.1%} in the worse direction AND a one-sided "
              f"Mann–Whitney U p < {report.alpha:g}; \"noisy\" crossed the threshold without significance. "
              f"Throttled runs left out: baseline {report.throttled_excluded['baseline']}, "
              f"candidate {report.throttled_excluded['candidate']}.", ""]
    return "\n".join(lines)
