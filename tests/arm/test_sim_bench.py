"""`edgevlm bench --device arm64-sim` (devices/arm64-sim.toml as shipped) stores the cost model's counts as
metrics of their own unit, and `edgevlm report` judges two such runs of the same code: every arm_* metric "no
change" with a change of exactly 0 (deterministic), from one run a side (issue 17 item 5)."""
from __future__ import annotations

import pytest

from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.runner import BenchSpec
from edgevlm.bench.session import bench_device
from edgevlm.report import compare
from edgevlm.store import ResultsStore
from edgevlm.store.metrics import METRICS, arm_metric_name

pytestmark = [pytest.mark.cross, pytest.mark.native, pytest.mark.slow]


def test_two_runs_of_the_same_code_report_no_change(cost_tools, tiny_files, tmp_path):
    model_dir = tiny_files.parent / "model"
    spec = BenchSpec(repeat=1, warmup=0, prompt_tokens=200, gen=3)
    ids = []
    with ResultsStore(tmp_path / "s.sqlite") as db:
        for _ in range(2):
            result = bench_device(DeviceRequest("arm64-sim", model_dir), spec)
            (record,) = result.records
            assert record.device_name == "arm64-sim" and record.threads == 1
            assert record.workload == "img144+p200+g3"
            ids.append(db.add_run(record))
        groups = compare(db, [ids[0]], [ids[1]]).groups
    judged = {g.metric: g for g in groups}
    for stage in ("vit", "projector", "prefill", "decode", "total"):
        for count in ("insns", "x1_cycles", "a78_cycles"):   # cycles too: the model leaves FINISH's noise out
            g = judged[arm_metric_name(count, stage)]
            assert METRICS[g.metric].deterministic
            assert g.verdict == "no change" and g.judgement.change == 0.0, (g.metric, g.judgement)
            assert (g.judgement.baseline_runs, g.judgement.candidate_runs) == (1, 1)
    assert judged[arm_metric_name("insns", "vit")].unit == "insns"
    assert judged[arm_metric_name("x1_cycles", "vit")].unit == "cycles"
