"""Markdown fit for a GitHub job summary or PR comment: what a reviewer needs first (one line per regressed
metric), then the fingerprint notes, then the verdict table and how it was computed."""
from __future__ import annotations

from edgevlm.report.model import Report
from edgevlm.report.table import HEADERS, headlines, method_text, rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(report: Report) -> str:
    lines = [f"**edgevlm report — {report.summary_line()}**", ""]
    regressed = headlines(report)
    if regressed:
        lines += ["Regressed:", ""] + [f"- **{_cell(h)}**" for h in regressed] + [""]
    if report.notes:
        lines += ["Fingerprint differences:", ""] + [f"- {_cell(n)}" for n in report.notes] + [""]
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in rows(report):
        status = f"**{r[0]}**" if r[0] == "regression" else r[0]
        lines.append("| " + " | ".join(_cell(c) for c in (status, *r[1:])) + " |")
    reasons = sorted({g.judgement.reason for g in report.groups if g.verdict == "insufficient runs"})
    lines += [""] + [f"Insufficient runs: {r}." for r in reasons] + ["", method_text(report), ""]
    return "\n".join(lines)
