"""Verdict rules on hand-made samples, and compare() over a real store: groups, window, throttled runs."""
import pytest

from edgevlm.report import compare, parse_threshold
from edgevlm.report.compare import ReportInputError
from edgevlm.report.stats import judge
from edgevlm.errors import StoreError
from edgevlm.store import ResultsStore, RunRecord

BASE = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2, 99.8, 100.1]


def shifted(factor, values=BASE):
    return [v * factor for v in values]


def test_verdict_rules():
    assert judge(BASE, shifted(1.10), "lower").verdict == "regression"
    assert judge(BASE, shifted(1.10), "higher").verdict == "improvement"
    assert judge(BASE, shifted(0.90), "higher").verdict == "regression"
    assert judge(BASE, shifted(1.02), "lower").verdict == "no change"   # significant but below threshold
    noisy = judge([100, 100, 100, 100, 200], [100, 100, 100, 180, 200, 110], "lower")
    assert noisy.verdict == "noisy" and noisy.change >= 0.05 and noisy.p_worse >= 0.05
    assert judge(BASE[:4], shifted(1.5), "lower").verdict == "insufficient data"
    j = judge(BASE, shifted(1.10), "lower")
    assert j.change == pytest.approx(0.10) and j.p_worse < 0.001 and j.p_better > 0.99


def test_threshold_parsing():
    assert parse_threshold("5%") == pytest.approx(0.05) and parse_threshold("0.05") == 0.05
    for bad in ("5", "five", "-1%", "0%", "%"):
        with pytest.raises(ReportInputError):
            parse_threshold(bad)


def rec(commit, branch, decode, created, **kw):
    return RunRecord(device_name="sd888", model_name="m", quant="Q4_K_M", commit=commit, branch=branch,
                     samples={"decode_tps": decode, "vit_ms": [400.0] * len(decode)}, created=created, **kw)


@pytest.fixture
def history(tmp_path):
    """7 main runs (the oldest slow, one throttled), a candidate 10 % slower on decode."""
    store = ResultsStore(tmp_path / "s.sqlite")
    store.add_run(rec("0000aaa1", "main", shifted(0.5, [20.0] * 6), "2025-01-01T00:00:00Z"))  # outside window
    for day in range(2, 7):
        store.add_run(rec(f"000{day}aaa1", "main", shifted(0.2, BASE), f"2025-01-0{day}T00:00:00Z"))
    store.add_run(rec("0007aaa1", "main", [1.0] * 8, "2025-01-07T00:00:00Z", throttled=True))
    store.add_run(rec("cafe0001", "pr", shifted(0.18, BASE), "2025-01-08T00:00:00Z"))
    store.add_run(rec("cafe0001", "pr", [1.0] * 8, "2025-01-08T01:00:00Z", throttled=True))
    yield store
    store.close()


def test_compare_window_and_throttled(history):
    report = compare(history, "main", "cafe", window=5)
    by_metric = {g.metric: g for g in report.groups}
    decode = by_metric["decode_tps"]
    assert decode.verdict == "regression" and decode.judgement.change == pytest.approx(-0.10)
    assert len(decode.baseline_runs) == 5 and decode.baseline_n == 40  # the 5 newest unthrottled runs
    assert len(decode.throttled_baseline) == 1 and len(decode.throttled_candidate) == 1
    assert report.throttled_excluded == {"baseline": 1, "candidate": 1}
    assert by_metric["vit_ms"].verdict == "no change"
    assert report.regressed and "1 regression" in report.summary_line()
    roles = [p.role for p in decode.history]
    assert roles.count("window") == 5 and roles.count("candidate") == 1 and roles.count("throttled") == 2


def test_compare_metric_filter_and_bad_input(history):
    assert [g.metric for g in compare(history, "main", "cafe", metrics=["vit_ms"]).groups] == ["vit_ms"]
    with pytest.raises(StoreError, match="unknown metric"):
        compare(history, "main", "cafe", metrics=["fps"])
    with pytest.raises(StoreError, match="matches no run"):
        compare(history, "release", "cafe")
    with pytest.raises(ReportInputError):
        compare(history, "main", "cafe", window=0)
    with pytest.raises(StoreError, match="apart from the candidate"):
        compare(history, "pr", "pr")
