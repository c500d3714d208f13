"""Phone-like benchmark noise in two levels, to measure how often the report flags what (pure numpy, seeded).

- Between runs: each run gets a multiplicative random effect, log-normal with sd ``between_sd`` (3–5 % on a
  phone: thermal state, background load, which cores the scheduler chose — ExecuTorch's nightly S22 numbers
  moved 1093 → 723 ms with no code change). With probability ``p_thermal`` a run is also a thermal outlier,
  ``thermal_slowdown`` × slower, NOT flagged (as when the bench's thermal gate misses it).
- Within a run: each sample log-normal with sd ``within_sd`` around the run's level, and with probability
  ``p_spike`` a single slow repetition (``spike_slowdown`` ×).

Used by the statistics tests (tests/report) and the 500-trial benchmark (benchmarks/report_noise.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from edgevlm.report.stats import Rule, judge

Kind = Literal["latency", "throughput"]


@dataclass(frozen=True)
class NoiseModel:
    between_sd: float = 0.04
    p_thermal: float = 0.05
    thermal_slowdown: tuple[float, float] = (1.10, 1.30)
    within_sd: float = 0.02
    p_spike: float = 0.05
    spike_slowdown: tuple[float, float] = (1.2, 1.6)


def simulate_runs(rng, model: NoiseModel, n_runs: int, n_samples: int, median: float, slowdown: float = 1.0,
                  kind: Kind = "latency") -> list[list[float]]:
    """``n_runs`` runs of ``n_samples`` each around ``median``; a slowdown multiplies latency, divides tok/s."""
    level = slowdown * np.exp(rng.normal(0.0, model.between_sd, n_runs))
    hot = rng.random(n_runs) < model.p_thermal
    level[hot] *= rng.uniform(*model.thermal_slowdown, hot.sum())
    factor = level[:, None] * np.exp(rng.normal(0.0, model.within_sd, (n_runs, n_samples)))
    spikes = rng.random(factor.shape) < model.p_spike
    factor[spikes] *= rng.uniform(*model.spike_slowdown, spikes.sum())
    values = median * factor if kind == "latency" else median / factor
    return values.tolist()


@dataclass(frozen=True)
class Trials:
    trials: int
    regression: int
    improvement: int
    insufficient: int
    anchor: int = 0  # trials another decision rule (``anchor``) called a regression, on the same data

    @property
    def regression_rate(self) -> float:
        return self.regression / self.trials

    @property
    def flagged_rate(self) -> float:
        """Regression or improvement: anything the report would call a change."""
        return (self.regression + self.improvement) / self.trials


@dataclass(frozen=True)
class TrialSetup:
    """One simulated comparison: the noise, the true slowdown, runs a side, and the decision rule judging it."""
    model: NoiseModel = NoiseModel()
    slowdown: float = 1.0
    baseline_runs: int = 5
    candidate_runs: int = 3
    samples: int = 10
    kind: Kind = "latency"
    threshold: float = 0.05
    alpha: float = 0.05
    rule: Rule = "test"
    min_runs: int = 3
    anchor: Callable[[list, list, str], bool] | None = None   # another rule, counted on the same data


def run_trials(seed: int, trials: int, setup: TrialSetup | None = None, **changes: Any) -> Trials:
    """Simulate ``trials`` baseline/candidate comparisons and count the verdicts (and the anchor's calls).
    ``changes``: fields of ``setup`` (TrialSetup) replaced, e.g. ``run_trials(1, 500, slowdown=1.1)``."""
    s = replace(setup or TrialSetup(), **changes)
    rng = np.random.default_rng(seed)
    better = "lower" if s.kind == "latency" else "higher"
    counts = {"regression": 0, "improvement": 0, "insufficient runs": 0, "anchor": 0}
    for _ in range(trials):
        base = simulate_runs(rng, s.model, s.baseline_runs, s.samples, 100.0, 1.0, s.kind)
        cand = simulate_runs(rng, s.model, s.candidate_runs, s.samples, 100.0, s.slowdown, s.kind)
        verdict = judge(base, cand, better, threshold=s.threshold, alpha=s.alpha, rule=s.rule,
                        min_runs=s.min_runs).verdict
        if verdict in counts:
            counts[verdict] += 1
        counts["anchor"] += bool(s.anchor and s.anchor(base, cand, better))
    return Trials(trials, counts["regression"], counts["improvement"], counts["insufficient runs"], counts["anchor"])
