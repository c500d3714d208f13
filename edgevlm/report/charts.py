"""History charts (matplotlib, Agg canvas, no pyplot state): one point per run — its median, its interquartile
range as a bar and its min–max as a thin line — the baseline window shaded, the candidate runs in red.
Returned as PNG bytes for embedding."""
from __future__ import annotations

import io

import numpy as np

from edgevlm.report.model import GroupResult

_COLOURS = {"candidate": "tab:red", "window": "tab:blue", "throttled": "tab:orange", "other": "tab:gray"}


def run_spread(values: list[float]) -> tuple[float, float, float, float, float]:
    """(min, q1, median, q3, max) of one run's samples."""
    q = np.percentile(values, [0, 25, 50, 75, 100])
    return tuple(float(v) for v in q)  # type: ignore[return-value]


def history_png(group: GroupResult) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: heavy, charts only
    from matplotlib.figure import Figure  # lazy: heavy, charts only

    fig = Figure(figsize=(8, 3.2), dpi=96)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(group.history)))
    window_x = [x for x, p in zip(xs, group.history) if p.role == "window"]
    if window_x:
        ax.axvspan(min(window_x) - 0.5, max(window_x) + 0.5, color="tab:blue", alpha=0.12, lw=0,
                   label="baseline window")
    labelled = set()
    for x, point in zip(xs, group.history):
        lo, q1, med, q3, hi = run_spread(point.values)
        colour = _COLOURS[point.role]
        ax.vlines(x, lo, hi, color=colour, lw=0.8, zorder=2)
        ax.vlines(x, q1, q3, color=colour, lw=4, alpha=0.5, zorder=2)
        label = {"candidate": "candidate run", "throttled": "throttled (excluded)"}.get(point.role)
        ax.scatter([x], [med], s=28 if point.role == "candidate" else 16, color=colour, zorder=3,
                   marker="D" if point.role == "candidate" else "o",
                   label=label if label and point.role not in labelled else None)
        labelled.add(point.role)
    ax.set_xticks(xs, [p.commit[:7] or f"#{p.run_id}" for p in group.history], rotation=60, fontsize=7)
    arrow = "lower" if group.better == "lower" else "higher"
    ax.set_ylabel(f"{group.unit}, run median ({arrow} is better)", fontsize=8)
    ax.set_title(f"{group.metric} — {group.device} / {group.model} {group.quant} {group.workload}".strip(),
                 fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
