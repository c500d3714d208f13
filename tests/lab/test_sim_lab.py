"""The lab runs arm64-sim cells (issue 17 item 5): a real Ray head on 127.0.0.1 started by `edgevlm lab head
--profile arm64-sim` (devices/arm64-sim.toml as shipped) advertises qemu on this host as a device; two matrices,
a base and a candidate of the same code, each one cell of the tiny model with an image, land their arm_* counts
in a SQLite store, and `edgevlm report` judges them with the deterministic rule from one run a side: every count
"no change", change exactly 0 (the same code counts the same).

Kept small: the tiny model of tests/arm, 160 prompt (144 of them the image's) + 2 generated tokens, one node, one cell per matrix.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from edgevlm.store import ResultsStore
from edgevlm.store.metrics import METRICS, arm_metric_name
from tests.arm.conftest import cost_tools, tiny_files  # noqa: F401  (fixtures)
from tests.devices.conftest import free_port
from tests.lab.conftest import EDGEVLM, _kill_group, _lab_processes

pytestmark = [pytest.mark.cross, pytest.mark.native, pytest.mark.slow]
STAGES = ("vision_load", "vit", "projector", "llm_load", "prefill", "decode", "total")


def test_unusable_host_is_not_advertised_and_says_why(tmp_path, monkeypatch):
    """Without qemu-user and nm on PATH the sim device is kept out, with the reason (no Ray, no qemu run)."""
    from edgevlm.lab.node import discover, resources

    monkeypatch.setenv("PATH", str(tmp_path))
    (device,) = discover(["arm64-sim"], None).devices
    assert device.serial.startswith("sim:") and device.transport == "sim" and not device.healthy
    assert "qemu-aarch64" in device.reason and "nm" in device.reason
    assert resources(discover(["arm64-sim"], None)) == {}


@pytest.fixture(scope="module")
def sim_lab(lab_dirs, cost_tools):  # noqa: F811
    """`edgevlm lab head --profile arm64-sim` on a free port; stopped (group, then stragglers) afterwards."""
    port = free_port()
    log = lab_dirs / "sim-head.log"
    argv = [*EDGEVLM, "lab", "head", "--port", str(port), "--node-ip-address", "127.0.0.1", "--profile", "arm64-sim",
            "--num-cpus", "1", "--object-store-mb", "100"]
    env_lock = {"EDGEVLM_LOCK_DIR": str(lab_dirs / "locks")}   # this lab's local lock, not the machine's
    proc = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, **env_lock})
    address = f"127.0.0.1:{port}"
    try:
        _wait_for_sim_device(address, log)
        yield address
    finally:
        _kill_group(proc, signal.SIGTERM)
        time.sleep(1)
        _kill_group(proc, signal.SIGKILL)
        for straggler in _lab_processes(lab_dirs):
            straggler.kill()


def _wait_for_sim_device(address: str, log, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run([*EDGEVLM, "lab", "status", "--address", address], capture_output=True, text=True,
                             timeout=120)
        if out.returncode == 0 and "sim:" in out.stdout and "arm64-sim" in out.stdout:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the lab never showed the sim device:\n{out.stdout}{out.stderr}\n"
                                 f"{log.read_text()[-3000:]}")
        time.sleep(2)


def _matrix(path, model, bundle, branch: str, commit: str):
    path.write_text(f"""name = "{path.stem}"
commit = "{commit}"
branch = "{branch}"
models = ["{model}"]
profiles = ["arm64-sim"]
reps = 5            # ignored by a sim cell: one counted run is the whole evidence
warmup = 1
retries = 0

[[workloads]]
name = "img-tiny"
prompt_tokens = 160
gen = 2
image = true

[bundles]
android-arm64 = "{bundle}"
""")
    return path


def test_sim_cells_land_counts_that_report_judges_from_one_run_a_side(sim_lab, cost_tools, tiny_files,  # noqa: F811
                                                                       tmp_path):
    model, bundle = tiny_files.parent / "model", cost_tools[0].parent
    store = tmp_path / "lab.sqlite"
    for branch, commit in (("base", "aaaa1111"), ("cand", "bbbb2222")):
        matrix = _matrix(tmp_path / f"{branch}.toml", model, bundle, branch, commit)
        out = subprocess.run([*EDGEVLM, "lab", "run", str(matrix), "--address", sim_lab, "--store", str(store)],
                             capture_output=True, text=True, timeout=1800)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "failed" not in out.stdout + out.stderr, out.stdout + out.stderr
    with ResultsStore(store) as db:
        runs = db.runs(with_samples=True)
    assert sorted(r.record.branch for r in runs) == ["base", "cand"]
    for run in runs:
        r = run.record
        assert r.device_name == "arm64-sim" and r.threads == 1 and not r.partial
        assert r.workload == "img144+p160+g2" and r.extra["lab"]["serial"].startswith("sim:")
        assert r.device_fingerprint["soc"] == "arm64-sim"
        for stage in STAGES:   # one value each: a count, not a series of timings
            assert len(r.samples[arm_metric_name("insns", stage)]) == 1
            assert r.samples[arm_metric_name("x1_cycles", stage)][0] > 0
    counts = [{k: v for k, v in r.record.samples.items() if k.startswith("arm_")} for r in runs]
    assert counts[0] == counts[1]   # the same code, counted twice in two cells

    folder = tmp_path / "report"
    out = subprocess.run([*EDGEVLM, "report", "--baseline", "base", "--candidate", "cand", "--store", str(store),
                          "--format", "json,md", "--out", str(folder)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    groups = {g["metric"]: g for g in json.loads((folder / "report.json").read_text())["groups"]}
    for stage in STAGES:
        for kind in ("insns", "x1_cycles", "a78_cycles"):
            metric = arm_metric_name(kind, stage)
            j = groups[metric]["judgement"]
            assert METRICS[metric].deterministic
            assert (j["rule"], j["verdict"], j["change"]) == ("exact", "no change", 0.0), (metric, j)
            assert (j["baseline_runs"], j["candidate_runs"]) == (1, 1)
    assert arm_metric_name("insns", "vit") in (folder / "report.md").read_text()
