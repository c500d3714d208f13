"""Run-level statistics on simulated two-level phone noise (edgevlm.report.noise: between-run sd, unflagged
thermal outliers, within-run noise). Seeds fixed; 500 trials per check (the issue's minimum per target).

What is asserted is what holds (benchmarks/results/report-noise.md has every configuration, including the
targets missed with thermal outliers and at 4–5 % between-run sd): the ≥ 90 % / ≤ 2 % targets on the 5 vs 3 runs
set-up at 3 % between-run sd without outliers; at 4 % with outliers false alarms within the U test's size (the
2 % target is missed there); ≥ 90 % detection once 5 candidate runs face 10 baseline runs under that noise.
"""
import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from edgevlm.report.noise import NoiseModel, run_trials, simulate_runs
from edgevlm.report.stats import _u_counts, judge, shift_estimate

TRIALS = 500
CALM = NoiseModel(between_sd=0.03, p_thermal=0.0)     # between-run sd 3 %, no missed throttling
PHONE = NoiseModel(between_sd=0.04, p_thermal=0.05)   # sd 4 % plus 5 % unflagged thermal outliers


@pytest.mark.parametrize("seed, kind", [(1205, "latency"), (1207, "throughput")])
def test_ten_percent_slowdown_flagged_in_90_percent_5_vs_3_runs(seed, kind):
    t = run_trials(seed, TRIALS, model=CALM, slowdown=1.10, kind=kind)
    # target ≥ 90 %; binomial sd at p = 0.93 over 500 trials is 1.1 points, seeds fixed so the count is exact
    assert t.regression_rate >= 0.90, t


@pytest.mark.parametrize("seed, kind", [(1206, "latency"), (1208, "throughput")])
def test_no_change_flagged_in_at_most_2_percent(seed, kind):
    t = run_trials(seed, TRIALS, model=CALM, slowdown=1.0, kind=kind)
    assert t.regression_rate <= 0.02, t  # the false-alarm target


@pytest.mark.parametrize("seed, kind", [(1220, "latency"), (1221, "throughput")])
def test_no_change_under_phone_noise_stays_within_the_tests_size(seed, kind):
    t = run_trials(seed, TRIALS, model=PHONE, slowdown=1.0, kind=kind)
    # the 2 % target is MISSED here (measured 2.4–2.6 % in benchmarks/results/report-noise.md): at 5 vs 3 runs the
    # exact U test rejects at U ≤ 1, whose size is 2/56 = 3.6 %; the 5 % threshold removes only part of that
    assert t.regression_rate <= 2 / 56, t


def test_more_runs_restore_detection_under_thermal_outliers():
    # 5 candidate runs against a 10-run window: the design docs/ci.md recommends for a phone
    t = run_trials(1230, TRIALS, model=PHONE, slowdown=1.10, baseline_runs=10, candidate_runs=5)
    assert t.regression_rate >= 0.90, t


def test_between_run_shift_alone_is_not_a_regression():
    """The pseudo-replication the pooled test fell for: within-run noise tiny, runs apart by their own effect."""
    model = NoiseModel(between_sd=0.04, p_thermal=0.0, within_sd=0.003, p_spike=0.0)
    rng = np.random.default_rng(1240)
    pooled = run_level = 0
    for _ in range(TRIALS):
        base = simulate_runs(rng, model, 5, 10, 100.0)
        cand = simulate_runs(rng, model, 3, 10, 100.0)
        b, c = sum(base, []), sum(cand, [])
        pooled += mannwhitneyu(c, b, alternative="greater").pvalue < 0.05  # every sample as independent
        run_level += judge(base, cand, "lower", threshold=0.0001).verdict == "regression"
    assert pooled >= 0.25 * TRIALS, pooled  # the old way: pure noise "significant" in a large share of trials
    # run medians: the exact U test's size at U ≤ 1 is 2/56 = 3.6 % (18 of 500); + 3 binomial sd (4.2) → 30
    assert run_level <= 30, run_level


def test_ten_percent_speedup_is_an_improvement_never_a_regression():
    t = run_trials(1250, 200, model=CALM, slowdown=1 / 1.10)
    assert t.regression == 0 and t.improvement / t.trials >= 0.90, t


def test_insufficient_runs_instead_of_a_guess():
    fast, slow = [[100.0] * 10] * 5, [[130.0] * 10] * 2
    j = judge(fast, slow, "lower")
    assert j.verdict == "insufficient runs" and "--min-runs is 3" in j.reason
    j = judge(fast[:3], [[130.0 + i] * 10 for i in range(3)], "lower")  # 3 vs 3: smallest p = 1/20
    assert j.verdict == "insufficient runs" and "cannot reach" in j.reason
    assert judge(fast, slow, "lower", min_runs=2).verdict == "regression"  # 5 vs 2 can reach p = 1/21 = 0.048
    assert judge(fast, [[130.0 + i] * 10 for i in range(3)], "lower").verdict == "regression"


def test_u_distribution_and_interval_match_scipy():
    for m, n in ((5, 3), (10, 5), (4, 4)):
        counts = _u_counts(m, n)
        assert sum(counts) == math.comb(m + n, n)
        rng = np.random.default_rng(m * 10 + n)
        b, c = rng.normal(size=m), rng.normal(size=n)
        u = sum(ci > bi for ci in c for bi in b)  # scipy's U of the candidate: pairs where it is higher
        exact = mannwhitneyu(c, b, alternative="less", method="exact").pvalue  # P(U ≤ u) under the null
        assert sum(counts[:u + 1]) / math.comb(m + n, n) == pytest.approx(exact, rel=1e-12)
    # CI: d sorted = the 15 pairwise log ratios; k = 2 for 5 vs 3 at alpha 0.05 (P(U <= 1) = 2/56)
    log_b, log_c = np.log([100, 101, 102, 103, 104]), np.log([110, 111, 112])
    est, (lo, hi) = shift_estimate(log_b, log_c, 0.05)
    d = sorted(c - b for c in log_c for b in log_b)
    assert (lo, hi) == (pytest.approx(math.expm1(d[1])), pytest.approx(math.expm1(d[-2])))
    assert lo <= est <= hi and lo > 0


def test_interval_covers_the_true_change_at_its_level():
    rng, covered, trials = np.random.default_rng(1260), 0, 300
    for _ in range(trials):
        base = simulate_runs(rng, CALM, 5, 10, 100.0)
        cand = simulate_runs(rng, CALM, 3, 10, 100.0, slowdown=1.07)
        lo, hi = judge(base, cand, "lower").ci
        covered += lo <= 0.07 <= hi
    # nominal ≥ 90 % (1 - 2·alpha); the exact interval at 5 vs 3 is conservative (2·2/56 = 7 % outside)
    assert covered / trials >= 0.88, covered


def test_consecutive_rule():
    base = [[100.0 + i] * 10 for i in range(5)]
    two_bad = [[100.0] * 10, [108.0] * 10, [109.0] * 10]
    apart = [[108.0] * 10, [100.0] * 10, [109.0] * 10]
    j = judge(base, two_bad, "lower", rule="consecutive")
    assert j.verdict == "regression" and "2 worse" in j.reason and j.p_worse is None
    assert judge(base, apart, "lower", rule="consecutive").verdict == "noisy"  # never 2 in a row
    assert judge(base, apart, "lower", rule="consecutive", consecutive=1).verdict == "regression"
    assert judge(base, [[100.0] * 10], "lower", rule="consecutive").verdict == "insufficient runs"
    tps = judge([[20.0] * 5] * 5, [[18.0] * 5] * 2, "higher", rule="consecutive")
    assert tps.verdict == "regression" and tps.change == pytest.approx(-0.10)
