"""The verdict for one metric, with the RUN as the unit of evidence.

Samples within a run share its conditions (thermal state, background load, which cores the scheduler chose), so
they are not independent evidence: each run is summarised by its median, and baseline runs are compared with
candidate runs. Two rules:

- ``test`` (default): a practical threshold on the estimated change AND a one-sided exact Mann–Whitney U test on
  the run medians (scipy). The change is the Hodges–Lehmann estimate (median of all candidate/baseline run-median
  ratios); its confidence interval inverts the same U test, so it agrees with the p-value.
- ``consecutive``: PyTorch's rule for nightly series: a regression is at least ``consecutive`` candidate runs in a
  row (in time order) each worse than the baseline window's median by the threshold or more. No p-value.

Too few runs for the rule gives "insufficient runs", never a guess. Pure functions on numbers (no store).
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from edgevlm.store.metrics import LOWER, Direction

Verdict = Literal["regression", "improvement", "no change", "noisy", "insufficient runs"]
VERDICTS: tuple[Verdict, ...] = ("regression", "improvement", "noisy", "insufficient runs", "no change")
Rule = Literal["test", "consecutive", "exact"]
RULES: tuple[Rule, ...] = ("test", "consecutive")   # what --rule accepts; "exact" is chosen by the metric
EXACT_THRESHOLD = 0.005   # deterministic metrics: a 0.5 % change is a verdict (counts repeat exactly)
MIN_RUNS = 3        # runs a side; with 5 baseline runs, 3 candidate runs can reach p = 1/56 ≈ 0.018
CONSECUTIVE = 2     # PyTorch's benchmark regression job: at least 2 consecutive violations


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    rule: Rule
    baseline_runs: int
    candidate_runs: int
    baseline_median: float | None    # median of the baseline run medians
    candidate_median: float | None   # median of the candidate run medians
    change: float | None             # estimated (candidate - baseline) / baseline; +0.10 = 10 % higher
    ci: tuple[float, float] | None   # confidence interval of the change (test rule)
    confidence: float | None         # of that interval: 1 - 2·alpha (its one-sided ends match the test)
    p_worse: float | None            # one-sided p-value that the candidate is worse
    p_better: float | None
    reason: str = ""                 # why "insufficient runs", or the consecutive streak seen


def run_medians(runs: Sequence[Sequence[float]]) -> list[float]:
    return [statistics.median(r) for r in runs if len(r)]


def judge(baseline: Sequence[Sequence[float]], candidate: Sequence[Sequence[float]], better: Direction, *,
          threshold: float = 0.05, alpha: float = 0.05, min_runs: int = MIN_RUNS, rule: Rule = "test",
          consecutive: int = CONSECUTIVE) -> Judgement:
    """Judge candidate runs against baseline runs (each a list of raw samples; candidate runs in time order)."""
    b, c = run_medians(baseline), run_medians(candidate)
    if rule == "consecutive":
        return _judge_consecutive(b, c, better, threshold, min_runs, consecutive)
    return _judge_test(b, c, better, threshold, alpha, min_runs)


def judge_exact(baseline: Sequence[Sequence[float]], candidate: Sequence[Sequence[float]], better: Direction, *,
                threshold: float = EXACT_THRESHOLD) -> Judgement:
    """Deterministic metrics (instruction and cycle counts): the newest baseline run (baseline newest first)
    against the newest candidate run (candidate in time order), a fixed threshold, no statistics: a count
    repeats exactly, so one run a side is the whole evidence and any change beyond the threshold is real."""
    b, c = run_medians(baseline), run_medians(candidate)
    base = dict(rule="exact", baseline_runs=min(len(b), 1), candidate_runs=min(len(c), 1),
                baseline_median=_median(b[:1]), candidate_median=_median(c[-1:]), ci=None, confidence=None,
                p_worse=None, p_better=None)
    if not b or not c or b[0] <= 0:
        return Judgement("insufficient runs", change=None, reason="needs one run a side with a positive count",
                         **base)
    change = (c[-1] - b[0]) / b[0]
    worsening = _worsening(change, better)
    verdict: Verdict = ("regression" if worsening > threshold else "improvement" if -worsening > threshold
                        else "no change")
    return Judgement(verdict, change=change, reason=f"deterministic: fixed threshold {threshold:.2%}", **base)


def _judge_test(b: list[float], c: list[float], better: Direction, threshold: float, alpha: float,
                min_runs: int) -> Judgement:
    from scipy.stats import mannwhitneyu  # lazy: heavy

    base = dict(rule="test", baseline_runs=len(b), candidate_runs=len(c), baseline_median=_median(b),
                candidate_median=_median(c))
    short = _too_few(len(b), len(c), min_runs, alpha)
    if short or min(b + c) <= 0:
        return Judgement("insufficient runs", change=_ratio_change(b, c), ci=None, confidence=None, p_worse=None,
                         p_better=None, reason=short or "a run median is not positive", **base)
    log_b, log_c = [math.log(x) for x in b], [math.log(x) for x in c]
    worse_alt, better_alt = ("greater", "less") if better == LOWER else ("less", "greater")
    p_worse = float(mannwhitneyu(log_c, log_b, alternative=worse_alt, method="auto").pvalue)
    p_better = float(mannwhitneyu(log_c, log_b, alternative=better_alt, method="auto").pvalue)
    change, ci = shift_estimate(log_b, log_c, alpha)
    verdict = _verdict(change, better, threshold, p_worse < alpha, p_better < alpha)
    return Judgement(verdict, change=change, ci=ci, confidence=1 - 2 * alpha, p_worse=p_worse, p_better=p_better,
                     **base)


def _judge_consecutive(b: list[float], c: list[float], better: Direction, threshold: float, min_runs: int,
                       k: int) -> Judgement:
    base = dict(rule="consecutive", baseline_runs=len(b), candidate_runs=len(c), baseline_median=_median(b),
                candidate_median=_median(c), change=_ratio_change(b, c), ci=None, confidence=None, p_worse=None,
                p_better=None)
    if len(b) < min_runs or len(c) < k or not _median(b):
        return Judgement("insufficient runs", reason=f"{len(c)} candidate run(s) (need {k}), {len(b)} baseline "
                         f"run(s) (need {min_runs})", **base)
    ref = statistics.median(b)
    worsening = [_worsening((x - ref) / ref, better) for x in c]
    worse_streak = _longest_streak([w >= threshold for w in worsening])
    better_streak = _longest_streak([-w >= threshold for w in worsening])
    reason = f"longest streak beyond the threshold: {worse_streak} worse, {better_streak} better (need {k})"
    if worse_streak >= k:
        verdict: Verdict = "regression"
    elif better_streak >= k:
        verdict = "improvement"
    else:
        verdict = "noisy" if worse_streak or better_streak else "no change"
    return Judgement(verdict, reason=reason, **base)


def _too_few(n_b: int, n_c: int, min_runs: int, alpha: float) -> str:
    if n_b < min_runs or n_c < min_runs:
        return f"{n_c} candidate and {n_b} baseline run(s); --min-runs is {min_runs} a side"
    if 1 / math.comb(n_b + n_c, n_c) >= alpha:  # the smallest p-value the exact U test can give
        return (f"{n_c} candidate and {n_b} baseline runs cannot reach p < {alpha:g} "
                f"(smallest possible p = {1 / math.comb(n_b + n_c, n_c):.3g})")
    return ""


def _verdict(change: float, better: Direction, threshold: float, sig_worse: bool, sig_better: bool) -> Verdict:
    worsening = _worsening(change, better)
    if worsening >= threshold:
        return "regression" if sig_worse else "noisy"
    if -worsening >= threshold:
        return "improvement" if sig_better else "noisy"
    return "no change"


def _worsening(change: float, better: Direction) -> float:
    """> 0 when the candidate is worse: higher for lower-is-better metrics, lower for tok/s."""
    return change if better == LOWER else -change


def shift_estimate(log_b: Sequence[float], log_c: Sequence[float], alpha: float
                   ) -> tuple[float, tuple[float, float]]:
    """Hodges–Lehmann relative change and its distribution-free interval (inverted Mann–Whitney U).

    The n_b·n_c pairwise log-ratios d sorted; with k = the largest count such that P(U < k) ≤ alpha under the
    null, [d_(k), d_(N+1-k)] covers the true shift with probability ≥ 1 - 2·alpha (no ties assumed)."""
    d = sorted(c - b for c in log_c for b in log_b)
    k = max(1, _u_lower_count(len(log_b), len(log_c), alpha))
    est = statistics.median(d)
    return math.expm1(est), (math.expm1(d[k - 1]), math.expm1(d[len(d) - k]))


def _u_lower_count(n_b: int, n_c: int, alpha: float) -> int:
    """The largest k with P(U ≤ k - 1) ≤ alpha for the exact null distribution of U (k ≥ 1 means usable)."""
    counts = _u_counts(n_b, n_c)
    total, cum, k = math.comb(n_b + n_c, n_c), 0, 0
    for u, count in enumerate(counts):
        cum += count
        if cum / total > alpha:
            break
        k = u + 1
    return k


@lru_cache(maxsize=256)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, n) rank arrangements give each U = 0 … m·n (the standard recursion)."""
    if m == 0 or n == 0:
        return (1,)
    with_last_m, with_last_n = _u_counts(m - 1, n), _u_counts(m, n - 1)
    out = [0] * (m * n + 1)
    for u, cnt in enumerate(with_last_m):   # the largest value is a baseline: it beats no candidate
        out[u] += cnt
    for u, cnt in enumerate(with_last_n):   # the largest value is a candidate: it beats all m baselines
        out[u + m] += cnt
    return tuple(out)


def _longest_streak(flags: Sequence[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def _median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _ratio_change(b: Sequence[float], c: Sequence[float]) -> float | None:
    mb, mc = _median(b), _median(c)
    return (mc - mb) / mb if mb and mc is not None else None
