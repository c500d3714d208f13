"""The verdict for one metric: a practical threshold AND a one-sided Mann–Whitney U test on raw samples.

Pure functions on numbers (no store), so the statistical behaviour is tested on simulated data.
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from edgevlm.store.metrics import LOWER, Direction

Verdict = Literal["regression", "improvement", "no change", "noisy", "insufficient data"]
VERDICTS: tuple[Verdict, ...] = ("regression", "improvement", "noisy", "insufficient data", "no change")
MIN_SAMPLES = 5  # below this a side cannot reach p < 0.05 in a one-sided U test (5 vs 5 gives p ≥ 0.004)


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    baseline_median: float | None
    candidate_median: float | None
    change: float | None       # (candidate - baseline) / baseline; +0.10 = 10 % higher
    p_worse: float | None      # one-sided U-test p-value that the candidate is worse
    p_better: float | None     # ... that it is better


def judge(baseline: Sequence[float], candidate: Sequence[float], better: Direction, *, threshold: float = 0.05,
          alpha: float = 0.05, min_samples: int = MIN_SAMPLES) -> Judgement:
    """Regression needs BOTH |change| ≥ threshold in the worse direction AND p_worse < alpha; improvement is
    symmetric; a threshold crossing without significance is "noisy"; small changes are "no change"."""
    from scipy.stats import mannwhitneyu

    b_med = statistics.median(baseline) if baseline else None
    c_med = statistics.median(candidate) if candidate else None
    if len(baseline) < min_samples or len(candidate) < min_samples or not b_med:
        return Judgement("insufficient data", b_med, c_med, _change(b_med, c_med), None, None)
    change = (c_med - b_med) / b_med
    worse_alt, better_alt = ("greater", "less") if better == LOWER else ("less", "greater")
    p_worse = float(mannwhitneyu(candidate, baseline, alternative=worse_alt).pvalue)
    p_better = float(mannwhitneyu(candidate, baseline, alternative=better_alt).pvalue)
    worsening = change if better == LOWER else -change  # > 0 means the candidate is worse
    if worsening >= threshold:
        verdict: Verdict = "regression" if p_worse < alpha else "noisy"
    elif -worsening >= threshold:
        verdict = "improvement" if p_better < alpha else "noisy"
    else:
        verdict = "no change"
    return Judgement(verdict, b_med, c_med, change, p_worse, p_better)


def _change(b_med: float | None, c_med: float | None) -> float | None:
    return (c_med - b_med) / b_med if b_med and c_med is not None else None
