"""compare() over a real store: the run as the unit, like-for-like rows (fingerprints), mixed input refused."""
import pytest

from edgevlm.errors import StoreError
from edgevlm.report import MixedRunsError, compare, parse_threshold
from edgevlm.errors import ReportInputError
from edgevlm.store import ResultsStore, RunRecord

PHONE = {"model": "SM-G991B", "soc": "SM8350", "cpu_model": "", "cpu_features": "fp asimd evtstrm aes pmull sha1 "
         "sha2 crc32 atomics fphp asimdhp asimddp", "cores_online": "0-7", "cpu_mask": "f0", "governor": "schedutil",
         "os": "Android 13 (SDK 33)", "kernel": "Linux 5.4.210"}
SPREAD = [0.0, 0.3, -0.2, 0.1, -0.1, 0.2, -0.3, 0.05]   # within-run scatter, tok/s
RUN_LEVEL = [1.0, 1.02, 0.98, 1.01, 0.99, 1.015, 0.985]   # between-run effects


def rec(commit, branch, level, created, *, fingerprint=PHONE, llama="0c1e570", **kw):
    return RunRecord(device_name="sd888", model_name="m", quant="Q4_K_M", commit=commit, branch=branch,
                     samples={"decode_tps": [20.0 * level + s for s in SPREAD], "vit_ms": [400.0 + s for s in SPREAD]},
                     created=created, device_fingerprint=dict(fingerprint), llama_cpp_commit=llama, threads=4,
                     workload="img144+p246+g128", **kw)


@pytest.fixture
def store(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as db:
        db.add_run(rec("0000aaa1", "main", 0.5, "2025-01-01T00:00:00Z"))  # slow, outside the window
        for day in range(2, 8):
            db.add_run(rec(f"000{day}aaa1", "main", RUN_LEVEL[day - 2], f"2025-01-0{day}T00:00:00Z"))
        db.add_run(rec("0008aaa1", "main", 0.2, "2025-01-08T00:00:00Z", throttled=True))
        yield db


def add_candidate(db, levels, **kw):
    return [db.add_run(rec("cafe0001", "pr", level, f"2025-01-09T0{i}:00:00Z", **kw)) for i, level in enumerate(levels)]


def test_run_level_regression_with_interval_and_window(store):
    add_candidate(store, [0.90, 0.895, 0.905])
    add_candidate(store, [0.1], throttled=True)
    report = compare(store, "main", "cafe", window=5)
    decode = {g.metric: g for g in report.groups}["decode_tps"]
    j = decode.judgement
    assert decode.verdict == "regression" and j.change == pytest.approx(-0.105, abs=0.01)
    assert j.ci[0] < j.change < j.ci[1] < 0 and j.confidence == pytest.approx(0.90)
    assert (j.baseline_runs, j.candidate_runs) == (5, 3) and j.p_worse == pytest.approx(1 / 56)  # U = 0, exact
    assert len(decode.throttled_baseline) == 1 and len(decode.throttled_candidate) == 1
    assert {g.metric: g.verdict for g in report.groups}["vit_ms"] == "no change"
    roles = [p.role for p in decode.history]
    assert roles.count("window") == 5 and roles.count("candidate") == 3 and roles.count("throttled") == 2
    assert report.regressed and "1 regression" in report.summary_line()


def test_too_few_candidate_runs_is_insufficient_not_a_guess(store):
    add_candidate(store, [0.7])  # 30 % slower, but one run
    decode = {g.metric: g for g in compare(store, "main", "cafe").groups}["decode_tps"]
    assert decode.verdict == "insufficient runs" and "--min-runs is 3" in decode.judgement.reason
    assert compare(store, "main", "cafe", min_runs=1).groups[0].verdict == "insufficient runs"  # 5 vs 1: p ≥ 1/6


def test_mixed_hardware_is_refused_naming_the_field(store):
    add_candidate(store, [1.0, 1.0, 1.0], fingerprint={**PHONE, "governor": "performance"})
    with pytest.raises(MixedRunsError, match="governor: baseline 'schedutil', candidate 'performance'"):
        compare(store, "main", "cafe")
    report = compare(store, "main", "cafe", allow_mixed=True)
    assert all(g.mixed for g in report.groups) and "MIXED" in report.summary_line()
    assert any("governor" in n for n in report.notes)


def test_threads_and_workload_must_agree_too(store):
    store.add_run(RunRecord(device_name="sd888", model_name="m", quant="Q4_K_M", commit="cafe0002", branch="pr",
                            samples={"decode_tps": [20.0] * 4}, device_fingerprint=dict(PHONE), threads=2,
                            workload="img144+p246+g128", llama_cpp_commit="0c1e570"))
    with pytest.raises(MixedRunsError, match="threads: baseline '4', candidate '2'"):
        compare(store, "main", "cafe0002")


def test_build_differences_are_shown_not_refused(store):
    add_candidate(store, [1.0, 1.01, 0.99], llama="b9999aa")
    report = compare(store, "main", "cafe")
    assert not report.regressed
    assert any("llama_cpp_commit: baseline '0c1e570', candidate 'b9999aa'" in n for n in report.notes)


def test_rows_use_only_like_baseline_runs(store):
    # another phone on main: its runs are not this row's baseline, and its presence is not a "mix"
    other = {**PHONE, "soc": "SM8450", "model": "SM-S901B"}
    for day in range(1, 6):
        store.add_run(rec(f"00{day}0bbb1", "main", 2.0, f"2025-01-0{day}T12:00:00Z", fingerprint=other))
    add_candidate(store, [1.0, 1.01, 0.99])
    decode = {g.metric: g for g in compare(store, "main", "cafe").groups}["decode_tps"]
    assert decode.verdict == "no change" and decode.fingerprint["soc"] == "SM8350"


def test_consecutive_rule_through_compare(store):
    add_candidate(store, [1.0, 0.9, 0.9])
    report = compare(store, "main", "cafe", rule="consecutive")
    assert {g.metric: g.verdict for g in report.groups}["decode_tps"] == "regression"
    assert "consecutive" in report.summary_line()


def test_threshold_parsing():
    assert parse_threshold("5%") == pytest.approx(0.05) and parse_threshold("0.05") == 0.05
    for bad in ("5", "five", "-1%", "0%", "%"):
        with pytest.raises(ReportInputError):
            parse_threshold(bad)


def test_bad_options_and_refs(store):
    add_candidate(store, [1.0, 1.0, 1.0])
    assert [g.metric for g in compare(store, "main", "cafe", metrics=["vit_ms"]).groups] == ["vit_ms"]
    with pytest.raises(StoreError, match="unknown metric"):
        compare(store, "main", "cafe", metrics=["fps"])
    with pytest.raises(StoreError, match="matches no run"):
        compare(store, "release", "cafe")
    for kw in ({"window": 0}, {"min_runs": 0}, {"rule": "pooled"}, {"consecutive": 0}):
        with pytest.raises(ReportInputError):
            compare(store, "main", "cafe", **kw)
    with pytest.raises(StoreError, match="apart from the candidate"):
        compare(store, "pr", "pr")
