"""The report's text pieces, shared by the Markdown, HTML and terminal writers: the headline (one line per
regressed metric: change, its confidence interval, runs), the header notes, and the verdict table's rows."""
from __future__ import annotations

from edgevlm.report.model import GroupResult, Report

HEADERS = ("status", "device", "model", "quant", "workload", "threads", "metric", "baseline", "candidate",
           "change", "CI", "p", "runs b/c", "throttled b/c")


def fmt_num(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:.0f}"


def fmt_change(g: GroupResult) -> str:
    return "–" if g.judgement.change is None else f"{g.judgement.change:+.1%}"


def fmt_ci(g: GroupResult) -> str:
    j = g.judgement
    if j.ci is None or j.confidence is None:
        return "–"
    return f"{j.confidence:.0%}: {j.ci[0]:+.1%} … {j.ci[1]:+.1%}"


def fmt_p(g: GroupResult) -> str:
    j = g.judgement
    if j.change is None or j.p_worse is None:
        return "–"
    worse = j.change * (1 if g.better == "lower" else -1) > 0
    p = j.p_worse if worse else j.p_better  # the p-value of the direction the medians moved
    return f"{p:.2g}"


def where(g: GroupResult) -> str:
    threads = f" t{g.threads}" if g.threads else ""
    return f"{g.device} / {g.model} {g.quant} {g.workload}{threads}".replace("  ", " ").strip()


def headline(g: GroupResult) -> str:
    """``decode_tps (tok/s): -10.2% (90% CI -14.1% … -6.3%), 3 candidate runs vs 5 baseline — sd888 / …``"""
    j = g.judgement
    ci = f" ({j.confidence:.0%} CI {j.ci[0]:+.1%} … {j.ci[1]:+.1%})" if j.ci and j.confidence else ""
    p = f", p = {fmt_p(g)}" if j.p_worse is not None else f", {j.reason}" if j.reason else ""
    return (f"{g.metric} ({g.unit}): {fmt_change(g)}{ci}, {j.candidate_runs} candidate run"
            f"{'s' if j.candidate_runs != 1 else ''} vs {j.baseline_runs} baseline{p} — {where(g)}")


def headlines(report: Report) -> list[str]:
    return [headline(g) for g in report.sorted_groups() if g.verdict == "regression"]


def row(g: GroupResult) -> tuple[str, ...]:
    j = g.judgement
    arrow = "↓" if g.better == "lower" else "↑"
    return (g.verdict, g.device, g.model, g.quant or "–", g.workload or "–", str(g.threads or "–"),
            f"{g.metric} ({g.unit}, {arrow} better)", fmt_num(j.baseline_median), fmt_num(j.candidate_median),
            fmt_change(g), fmt_ci(g), fmt_p(g), f"{j.baseline_runs}/{j.candidate_runs}",
            f"{len(g.throttled_baseline)}/{len(g.throttled_candidate)}")


def rows(report: Report) -> list[tuple[str, ...]]:
    return [row(g) for g in report.sorted_groups()]


def method_text(report: Report) -> str:
    """How the verdicts were reached, in one paragraph (Markdown and HTML)."""
    if report.rule == "consecutive":
        rule = (f"A regression is at least {report.consecutive} consecutive candidate runs each worse than the "
                f"baseline window's median by {report.threshold:.1%} or more (PyTorch's rule for nightly series).")
    else:
        rule = (f"A regression needs an estimated change of at least {report.threshold:.1%} in the worse direction "
                f"AND a one-sided exact Mann–Whitney U test on the run medians with p < {report.alpha:g}; the "
                f"change is the Hodges–Lehmann estimate, its interval inverts the same test; \"noisy\" crossed the "
                f"threshold without significance.")
    exact = sorted({g.judgement.reason for g in report.groups if g.judgement.rule == "exact"})
    if exact:  # counted metrics repeat exactly: no test, the newest run a side
        rule += (f" Deterministic metrics (arm_*: instructions and estimated cycles counted under qemu) compare "
                 f"the newest baseline run with the newest candidate run ({'; '.join(exact)}).")
    return (f"Each run is summarised by its median (samples within a run share its conditions); baseline = the last "
            f"{report.window} unthrottled baseline runs with the candidate's fingerprint (hardware, cores and mask, "
            f"governor, threads, workload). {rule} Fewer than {report.min_runs} runs a side is \"insufficient "
            f"runs\". Throttled runs left out: baseline {report.throttled_excluded['baseline']}, candidate "
            f"{report.throttled_excluded['candidate']}.")
