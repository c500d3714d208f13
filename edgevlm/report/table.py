"""The verdict table's rows as plain strings, shared by the Markdown, HTML and terminal writers."""
from __future__ import annotations

from edgevlm.report.model import GroupResult, Report

HEADERS = ("status", "device", "model", "quant", "workload", "metric", "baseline", "candidate", "change", "p",
           "samples b/c", "throttled b/c")


def fmt_num(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:.0f}"


def row(g: GroupResult) -> tuple[str, ...]:
    j = g.judgement
    change = "–" if j.change is None else f"{j.change:+.1%}"
    worse = j.change is not None and j.change * _sign(g) > 0
    p = j.p_worse if worse else j.p_better  # the p-value of the direction the medians moved
    arrow = "↓" if g.better == "lower" else "↑"
    return (g.verdict, g.device, g.model, g.quant or "–", g.workload or "–",
            f"{g.metric} ({g.unit}, {arrow} better)", fmt_num(j.baseline_median), fmt_num(j.candidate_median),
            change, "–" if p is None else f"{p:.2g}", f"{g.baseline_n}/{g.candidate_n}",
            f"{len(g.throttled_baseline)}/{len(g.throttled_candidate)}")


def _sign(g: GroupResult) -> int:
    """+1 when a positive change is worse for this metric."""
    return 1 if g.better == "lower" else -1


def rows(report: Report) -> list[tuple[str, ...]]:
    return [row(g) for g in report.sorted_groups()]
