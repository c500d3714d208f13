"""Phone-like benchmark noise for the statistics tests (pure numpy, seeded).

A Snapdragon phone's repetition times scatter multiplicatively (DVFS, scheduler, caches): log-normal with
σ = 0.03 (≈3 % CV). Now and then a repetition runs while the SoC throttles: with probability 0.05 it is
1.2–1.6× slower (tok/s: that much lower). Those outliers are NOT flagged, as when the thermal gate misses them.
"""
from __future__ import annotations

import numpy as np

SIGMA = 0.03
P_THROTTLE = 0.05
THROTTLE_SLOWDOWN = (1.2, 1.6)


def latencies(rng: np.random.Generator, n: int, median: float, slowdown: float = 1.0) -> list[float]:
    """n latency samples (ms) around ``median × slowdown``."""
    x = median * slowdown * np.exp(rng.normal(0.0, SIGMA, n))
    hot = rng.random(n) < P_THROTTLE
    x[hot] *= rng.uniform(*THROTTLE_SLOWDOWN, hot.sum())
    return x.tolist()


def throughputs(rng: np.random.Generator, n: int, median: float, slowdown: float = 1.0) -> list[float]:
    """n tok/s samples: a slowdown divides throughput."""
    return [median * median / v for v in latencies(rng, n, median, slowdown)]
