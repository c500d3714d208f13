"""History charts (matplotlib, Agg canvas, no pyplot state): raw samples and medians per run, the baseline
window shaded, the candidate marked. Returned as PNG bytes for embedding."""
from __future__ import annotations

import io
import statistics

from edgevlm.report.model import GroupResult


def history_png(group: GroupResult) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=96)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = range(len(group.history))
    shaded = False
    for x, point in zip(xs, group.history):
        if point.role == "window":
            ax.axvspan(x - 0.5, x + 0.5, color="tab:blue", alpha=0.12, lw=0,
                       label=None if shaded else "baseline window")
            shaded = True
        colour = {"candidate": "tab:red", "throttled": "tab:orange"}.get(point.role, "tab:gray")
        ax.scatter([x] * len(point.values), point.values, s=9, color=colour, alpha=0.6, zorder=2)
    medians = [statistics.median(p.values) for p in group.history]
    ax.plot(list(xs), medians, color="black", lw=1, zorder=3, label="median per run")
    cand = [(x, m) for x, m, p in zip(xs, medians, group.history) if p.role == "candidate"]
    if cand:
        ax.scatter(*zip(*cand), marker="D", s=50, color="tab:red", zorder=4, label="candidate")
    ax.set_xticks(list(xs), [p.commit[:7] or f"#{p.run_id}" for p in group.history], rotation=60, fontsize=7)
    arrow = "lower" if group.better == "lower" else "higher"
    ax.set_ylabel(f"{group.unit} ({arrow} is better)", fontsize=8)
    ax.set_title(f"{group.metric} — {group.device} / {group.model} {group.quant} {group.workload}".strip(),
                 fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
