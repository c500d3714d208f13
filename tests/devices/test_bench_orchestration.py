"""The bench loop over the real adb client and the fake phone: deploy once per hash, warm-up + repetitions,
temperatures before/after, bounded cool-down, throttled flag, partial record on a killed run, store + CLI.

The device binary here is a stand-in shell script that writes edgevlm-run's --json record shape (fixed numbers),
because what is under test is the orchestration; its parser is generated from edgevlm-run's own option table, so
it refuses an option the real binary refuses. The real edgevlm-run on the phone: test_device_e2e.py.
"""
from __future__ import annotations

import json

import pytest

from edgevlm.bench.runner import BenchSpec
from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.session import bench_device
from edgevlm.store import ResultsStore
from tests.fakes.standin_run import random_model, standin_bundle

PROFILE = """name = "fakephone"
target = "android-arm64"
transport = "adb"
workdir = "/data/local/tmp/edgevlm"
[run]
threads = 4
cpu_mask = "f0"
[thermal]
zones = ["/sys/class/thermal/thermal_zone0/temp", "/sys/class/thermal/thermal_zone1/temp"]
throttle_c = 70.0
cooldown_c = 45.0
cooldown_max_s = 1
"""


@pytest.fixture
def bench_env(tmp_path, monkeypatch, phone):
    device, transport = phone
    devices = tmp_path / "devices"
    devices.mkdir()
    (devices / "fakephone.toml").write_text(PROFILE)
    monkeypatch.setenv("EDGEVLM_DEVICES_DIR", str(devices))
    bundle = standin_bundle(tmp_path / "build" / "android-arm64" / "bundle")
    models = random_model(tmp_path / "model", 50_000, 20_000)
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG fake bytes: the stand-in never decodes it")
    return device, transport, bundle, models, image


def test_series_samples_temperatures_and_push_once(bench_env):
    device, transport, bundle, models, image = bench_env
    spec = BenchSpec(repeat=3, warmup=1, prompt_tokens=32, gen=16)
    result = bench_device(DeviceRequest("fakephone", models, image=image, transport=transport, bundle=bundle), spec)
    assert result.error is None
    [record] = result.records
    assert record.samples["decode_tps"] == [20.0, 20.0, 20.0]           # 3 measured, the warm-up left out
    assert record.samples["vit_ms"] == [400.0] * 3 and record.samples["projector_ms"] == [12.5] * 3
    assert (record.partial, record.throttled, record.threads) == (False, False, 4)
    assert record.workload == "img144+p32+g16"                          # what the binary's record says ran
    runs = record.extra["runs"]
    assert [r["warmup"] for r in runs] == [True, False, False, False]
    assert all(r["temp_before_c"] == 38.5 and r["temp_after_c"] == 38.5 for r in runs)
    assert runs[0]["raw"]["threads"] == 4                               # -t from the profile reached the binary
    assert record.device_fingerprint["soc"] == "SM8350" and record.model_hashes["tiny-Q8_0.gguf"].startswith("sha256:")
    ran = [c for c in device.commands if "edgevlm-run" in c and "taskset f0" in c]
    assert len(ran) == 4                                                # pinned to cpu4-7 every time
    # a second session pushes nothing: every file's sha256 already matches on the device
    pushes_before = sum("sha256sum" in c for c in device.commands)
    pushed_model = device.root / "data/local/tmp/edgevlm/models/tiny-Q8_0.gguf"
    pushed_model_mtime = pushed_model.stat().st_mtime_ns
    again = bench_device(DeviceRequest("fakephone", models, image=image, transport=transport, bundle=bundle),
                         BenchSpec(repeat=1, warmup=0))
    # one hash round trip (the preflight's; deploy reuses its hashes), no file sent again
    assert again.error is None and sum("sha256sum" in c for c in device.commands) == pushes_before + 1
    assert pushed_model.stat().st_mtime_ns == pushed_model_mtime
    assert (device.root / "data/local/tmp/edgevlm/models/tiny-Q8_0.gguf").stat().st_size == 50_000


def test_hot_device_waits_bounded_and_flags_throttled(bench_env):
    device, transport, bundle, models, _ = bench_env
    device.set_temperature(1, 75.0)                     # above cooldown (45) and throttle (70)
    result = bench_device(DeviceRequest("fakephone", models, transport=transport, bundle=bundle),
                          BenchSpec(repeat=2, warmup=0))
    [record] = result.records
    assert record.throttled is True
    for run in record.extra["runs"]:
        assert run["cooldown"]["gave_up"] is True
        assert 1.0 <= run["cooldown"]["waited_s"] < 10.0               # bounded by cooldown_max_s = 1 (+ polling)
        assert run["temp_after_c"] == 75.0
    assert record.workload == "img144+p246+g128"                        # the default: the published workload


def test_killed_run_keeps_samples_marked_partial(bench_env, tmp_path):
    device, transport, bundle, models, image = bench_env
    device.faults.kill_pattern, device.faults.kill_nth, device.faults.kill_after_s = "./edgevlm-run", 3, 0.1
    result = bench_device(DeviceRequest("fakephone", models, image=image, transport=transport, bundle=bundle),
                          BenchSpec(repeat=3, warmup=1))
    assert "run 3/4" in result.error and "killed by SIGKILL" in result.error
    [record] = result.records
    assert record.partial is True and record.samples["decode_tps"] == [20.0]   # run 2 measured, run 3 killed
    with ResultsStore(tmp_path / "r.sqlite") as store:
        run_id = store.add_run(record)
        assert store.samples(run_id)["decode_tps"] == [20.0]


def test_cli_bench_stores_and_reports_partial(bench_env, tmp_path, monkeypatch, adb_server, capsys):
    from edgevlm.cli import main

    device, transport, bundle, models, _ = bench_env
    monkeypatch.setenv("EDGEVLM_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    store, out = tmp_path / "results.sqlite", tmp_path / "records.json"
    args = ["bench", str(models), "--device", "fakephone", "--serial", transport.serial, "--repeat", "2",
            "--warmup", "0", "--store", str(store), "--json", str(out)]
    main(args)                                          # success returns normally
    assert json.loads(out.read_text())[0]["samples"]["decode_tps"]["values"] == [20.0, 20.0]
    device.faults.kill_pattern, device.faults.kill_nth, device.faults.kill_seen = "./edgevlm-run", 2, 0
    device.faults.kill_after_s = 0.05
    with pytest.raises(SystemExit) as failed:
        main(args)
    assert failed.value.code == 2
    assert "bench stopped: run 2/2" in capsys.readouterr().err
    with ResultsStore(store) as db:
        assert db.count()[0] == 2 and sorted(r.record.partial for r in db.runs()) == [False, True]


def test_a_session_reads_each_local_file_at_most_once_to_hash_it(bench_env, monkeypatch):
    """Preflight (bytes to push), deploy (which to push) and the record (model hashes) share one hash per file:
    on a phone model that is 1.4 GB read once instead of three times (issue 19)."""
    from collections import Counter

    import edgevlm.hashing

    device, transport, bundle, models, image = bench_env
    reads: Counter = Counter()
    real = edgevlm.hashing.sha256_file

    def counting(path, *args, **kwargs):
        reads[str(path)] += 1
        return real(path, *args, **kwargs)
    monkeypatch.setattr(edgevlm.hashing, "sha256_file", counting)
    result = bench_device(DeviceRequest("fakephone", models, image=image, transport=transport, bundle=bundle),
                          BenchSpec(repeat=1, warmup=0))
    assert result.error is None and result.records[0].model_hashes
    assert reads and max(reads.values()) == 1, reads              # every file pushed was hashed, each once
