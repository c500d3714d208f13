"""The device lab for real: PostgreSQL server, two Ray nodes on 127.0.0.1 started by `edgevlm lab head` and
`edgevlm lab join`, one fake phone per node behind its own adb server, the android-arm64 bundle under qemu.

Runtime is kept small on purpose: tiny converted models, text-only workload of 16 prompt + 4 generated tokens,
2 repetitions per run, no warm-up.
"""
from __future__ import annotations

import json
import subprocess
from collections import defaultdict

import pytest

from edgevlm.device.adb import AdbTransport
from edgevlm.device.fingerprint import fingerprint
from edgevlm.store import ResultsStore

from tests.lab.conftest import EDGEVLM, start_lab, write_matrix

pytestmark = [pytest.mark.cross, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_models(tmp_path_factory, synth_ckpt):
    from edgevlm.convert import convert

    out = tmp_path_factory.mktemp("lab-models")
    return [convert(synth_ckpt("tiny-v2", "bin", seed=seed), out / f"tiny-s{seed}", quant="q8_0",
                    mmproj_quant="f16", name=f"tiny-s{seed}").out_dir for seed in (0, 1)]


@pytest.fixture(scope="module")
def arm_bundle():
    from edgevlm.toolchain.bundle import load_bundle

    bundle = load_bundle("android-arm64")
    if bundle is None or not bundle.has("edgevlm-run"):
        pytest.fail("android-arm64 bundle with edgevlm-run not built: run `make native-cross`")
    return bundle.path


@pytest.fixture(scope="module")
def lab(lab_dirs):
    # two profiles, one phone each; the worker's phone has its big cores parked, so the two fingerprints differ
    lab = start_lab(lab_dirs, ("fakephone-a", "fakephone-b"), cores=(None, (0, 1, 2, 3, 4, 5)))
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def lab_store(postgres_server):
    return postgres_server.new_database("lab")


def _run(lab, matrix, store, timeout=1200) -> subprocess.CompletedProcess:
    return subprocess.run([*EDGEVLM, "lab", "run", str(matrix), "--address", lab.address, "--store", store],
                          capture_output=True, text=True, timeout=timeout)


def test_matrix_lands_every_run_with_its_devices_fingerprint(lab, lab_store, two_models, arm_bundle, tmp_path):
    matrix = write_matrix(tmp_path / "base.toml", two_models, ["fakephone-a", "fakephone-b"], repeats=2,
                          bundle=arm_bundle, branch="base", commit="aaaa1111")
    out = _run(lab, matrix, lab_store)
    assert out.returncode == 0, out.stdout + out.stderr
    with ResultsStore(lab_store) as store:
        runs = store.runs(branch="base", with_samples=True)
    assert len(runs) == 8  # 2 models x 2 profiles (one phone each) x 2 repeats
    assert sorted((r.record.model_name, r.record.device_name) for r in runs) == sorted(
        (m, p) for m in ("tiny-s0", "tiny-s1") for p in ("fakephone-a", "fakephone-b") for _ in range(2))
    serial_of = {"fakephone-a": lab.nodes[0].serial, "fakephone-b": lab.nodes[1].serial}
    expected = {serial: fingerprint(AdbTransport(serial, server_port=node.adb.port))
                for node, serial in ((n, n.serial) for n in lab.nodes)}
    assert expected[lab.nodes[0].serial]["cores_online"] != expected[lab.nodes[1].serial]["cores_online"]
    for run in runs:
        r = run.record
        assert r.extra["lab"]["serial"] == serial_of[r.device_name]  # each profile ran on its own phone only
        probe = {k: v for k, v in r.device_fingerprint.items() if k != "cpu_mask"}
        assert probe == expected[r.extra["lab"]["serial"]]
        assert r.build_flags["cmake_defs"]["GGML_CPU_ARM_ARCH"].startswith("armv8.2-a")
        assert not r.partial and len(r.samples["decode_tps"]) == 2 and r.workload == "p16+g4"
        assert r.model_hashes and all(v.startswith("sha256:") for v in r.model_hashes.values())
    assert "8 cells" in out.stdout and "failed" not in out.stdout


def test_two_matrices_at_once_never_share_a_device(lab, lab_store, two_models, arm_bundle, tmp_path):
    m1 = write_matrix(tmp_path / "m1.toml", two_models[:1], ["fakephone-a", "fakephone-b"], repeats=2,
                      bundle=arm_bundle, branch="m1", commit="bbbb2222")
    m2 = write_matrix(tmp_path / "m2.toml", two_models[1:], ["fakephone-a", "fakephone-b"], repeats=2,
                      bundle=arm_bundle, branch="m2", commit="cccc3333")
    procs = [subprocess.Popen([*EDGEVLM, "lab", "run", str(m), "--address", lab.address, "--store", lab_store],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for m in (m1, m2)]
    seen = _status_while_running(lab, procs)
    outs = [p.communicate(timeout=1200)[0] for p in procs]
    assert "matrix m1-" in seen or "matrix m2-" in seen, seen  # lab status lists a queued matrix ...
    assert "tiny-s" in seen and ("fakephone-a tP" in seen or "fakephone-b tP" in seen), seen  # what a phone runs
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outs)
    with ResultsStore(lab_store) as store:
        runs = store.runs(branch="m1") + store.runs(branch="m2")
    assert len(runs) == 8
    by_device = defaultdict(list)
    for run in runs:
        lab_info = run.record.extra["lab"]
        by_device[lab_info["serial"]].append((lab_info["started"], lab_info["ended"], lab_info["matrix"]))
    assert len(by_device) == 2
    for serial, spans in by_device.items():
        spans.sort()
        for (s0, e0, _), (s1, e1, _) in zip(spans, spans[1:]):
            assert e0 <= s1, f"{serial}: two cells at once: {spans}"  # each cell holds its phone start to end
        assert len({m for *_, m in spans}) == 2  # both matrices did use this phone


def _status_while_running(lab, procs) -> str:
    """`edgevlm lab status` output taken while the matrices run, until one shows a busy phone and a matrix."""
    seen = ""
    while any(p.poll() is None for p in procs):
        out = lab.cli("lab", "status", "--address", lab.address, timeout=120).stdout
        if "tiny-s" in out and "matrix m" in out:
            return out
        seen = out
    return seen


def test_report_on_the_lab_store_matches_sqlite(lab, lab_store, two_models, arm_bundle, tmp_path):
    """Same runs, two engines: the report's verdict rows are identical."""
    matrix = write_matrix(tmp_path / "cand.toml", two_models, ["fakephone-a", "fakephone-b"], repeats=2,
                          bundle=arm_bundle, branch="cand", commit="dddd4444")
    assert _run(lab, matrix, lab_store).returncode == 0
    exported = tmp_path / "runs.json"
    subprocess.run([*EDGEVLM, "results", "export", "--store", lab_store, "--out", str(exported)], check=True)
    sqlite = tmp_path / "same.sqlite"
    subprocess.run([*EDGEVLM, "results", "import", str(exported), "--store", str(sqlite)], check=True)
    # 2 runs a side per device x model: the test rule computes medians and changes but says "insufficient runs"
    # (2 vs 2 cannot reach alpha); the consecutive rule reaches real verdicts with 2 runs
    for rule in ("test", "consecutive"):
        verdicts = []
        for store, name in ((lab_store, "pg"), (str(sqlite), "sqlite")):
            folder = tmp_path / f"{name}-{rule}"
            out = subprocess.run([*EDGEVLM, "report", "--baseline", "base", "--candidate", "cand", "--store", store,
                                  "--format", "json", "--out", str(folder), "--threshold", "5%", "--min-runs", "2",
                                  "--rule", rule, "--consecutive", "2"], capture_output=True, text=True)
            assert out.returncode in (0, 1), out.stderr  # 1 = a regression was found: still a verdict
            verdicts.append((out.returncode, _verdict_rows(json.loads((folder / "report.json").read_text()))))
        assert verdicts[0] == verdicts[1]
        assert len(verdicts[0][1]) >= 4  # 2 models x 2 devices compared, every metric
        if rule == "consecutive":
            assert any('"insufficient runs"' not in row for row in verdicts[0][1])


def _verdict_rows(report: dict) -> list:
    """Everything a row concludes (judgement: verdict, medians, change, interval, p-values), without the run ids,
    which differ between the two stores."""
    return sorted(json.dumps([g["device"], g["model"], g["quant"], g["workload"], g["metric"], g["judgement"]],
                             sort_keys=True) for g in report["groups"])
