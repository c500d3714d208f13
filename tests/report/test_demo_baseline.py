"""`make demo`'s report stage compares only with this machine's earlier runs (same fingerprint), never with
another machine's; with none it says so and ends normally."""
import json

from edgevlm.demo import like_runs, stage_report
from edgevlm.progress import console
from edgevlm.store import ResultsStore, RunRecord

HERE = {"model": "AMD EPYC", "soc": "AMD EPYC", "cpu_model": "AMD EPYC", "cpu_features": "fpu sse avx2",
        "cores_online": "0-1", "governor": ""}
ELSEWHERE = {**HERE, "model": "Intel(R) Xeon(R) Processor", "soc": "Intel(R) Xeon(R) Processor",
             "cpu_model": "Intel(R) Xeon(R) Processor", "cpu_features": "fpu sse avx2 avx512f amx_tile"}


def runs(store, fingerprint, levels, day):
    return store.add_runs([RunRecord(device_name="host", model_name="synth-tiny-v2", quant="Q4_K_M", threads=2,
                                     workload="img144+p200+g32", device_fingerprint=dict(fingerprint),
                                     created=f"2026-11-{day:02d}T0{i}:00:00Z",
                                     samples={"decode_tps": [level * 100 + d for d in (0.0, 0.5, -0.5, 0.2, -0.2)]})
                           for i, level in enumerate(levels)])


def test_other_machines_runs_are_no_baseline(tmp_path):
    db = tmp_path / "results.sqlite"
    with ResultsStore(db) as store:
        runs(store, ELSEWHERE, [2.5, 2.5, 2.5, 2.5, 2.5], 20)  # 2.5x faster elsewhere: the false alarm
        cand = runs(store, HERE, [1.0, 1.01, 0.99], 29)
        assert like_runs(store, cand) == []
    with console.capture() as cap:
        stage_report(db, cand, tmp_path)
    assert "no baseline for this machine yet" in cap.get()
    assert not (tmp_path / "report").exists()


def test_earlier_runs_of_this_machine_are_the_baseline(tmp_path):
    db = tmp_path / "results.sqlite"
    with ResultsStore(db) as store:
        runs(store, ELSEWHERE, [2.5] * 5, 20)
        mine = runs(store, HERE, [1.0, 1.02, 0.98, 1.01, 0.99], 27)
        cand = runs(store, HERE, [1.0, 1.01, 0.995], 29)
        assert sorted(like_runs(store, cand)) == sorted(mine)
    with console.capture():
        stage_report(db, cand, tmp_path)
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert not report["regressed"]
    (decode,) = report["groups"]
    assert set(decode["baseline_runs"]) == set(mine) and decode["judgement"]["verdict"] == "no change"
