"""Preflight on the fake Snapdragon 888 (real adb client) and the real sshd: read the device, adapt the profile,
refuse before anything is pushed.

The phone is changed the way real phones differ from the profile: big cores hot-plugged / thermally parked
(/sys/devices/system/cpu/online, /proc/cpuinfo listing only online cores, taskset refusing a mask with no online
core), no dotprod in /proc/cpuinfo Features, little free space (`df`), little free memory (/proc/meminfo).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from edgevlm.artifact import find_model
from edgevlm.bench.runner import BenchSpec
from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.session import bench_device
from edgevlm.device import preflight
from edgevlm.device.profiles import load_profile
from edgevlm.errors import PreflightRefused
from tests.fakes.android_sandbox import FEATURES
from tests.fakes.standin_run import random_model, standin_bundle

WORKDIR = "data/local/tmp/edgevlm"


@pytest.fixture
def setup(tmp_path, phone):
    device, transport = phone
    bundle = standin_bundle(tmp_path / "bundle", sleep_s=0.1)
    models = random_model(tmp_path / "model", 300_000, 100_000)
    return device, transport, bundle, models


def test_all_cores_online_keeps_the_profile(setup):
    device, transport, bundle, models = setup
    result = preflight.check(transport, load_profile("sd888"), bundle, find_model(models))
    assert result.ok and result.warnings == ()
    assert (result.cpus, result.cpu_mask, result.threads) == ((4, 5, 6, 7), "f0", 4)
    facts = result.facts
    assert facts.machine == "aarch64" and facts.online == tuple(range(8))
    assert facts.speed[7] == (2841600, 0) and facts.speed[0] == (1804800, 0)
    assert {"asimddp", "fphp"} <= facts.features
    assert facts.mem_available_bytes == 3120440 * 1024 and facts.disk_free_bytes == 50_000_000 * 1024
    assert set(facts.zones.values()) == {"cpu-1-0-usr", "cpu-1-1-usr"}
    assert result.bytes_to_push == 400_000 + (bundle.path / "edgevlm-run").stat().st_size + \
        (bundle.path / "build-info.json").stat().st_size


@pytest.mark.parametrize("online, cpus, mask, threads, warning", [
    ((0, 1, 2, 3, 5, 6), (5, 6), "60", 2, "cpu4,7 offline; running on cpu5,6 (mask 60)"),
    ((0, 1, 2, 3), (0, 1, 2, 3), "f", 4, "none of cpu4,5,6,7 is online; running on the fastest online cores"),
])
def test_offline_big_cores_adapt_mask_and_threads(setup, online, cpus, mask, threads, warning):
    device, transport, bundle, models = setup
    device.set_cpus(online=online)
    result = preflight.check(transport, load_profile("sd888"), bundle, find_model(models))
    assert result.ok and (result.cpus, result.cpu_mask, result.threads) == (cpus, mask, threads)
    assert any(warning in w for w in result.warnings), result.warnings
    # the shipped mask really fails on this phone, the adapted one runs
    assert transport.shell("taskset f0 true").code != 0 if not set(online) & {4, 5, 6, 7} else True
    assert transport.shell(f"taskset {mask} true").code == 0


def test_fastest_online_cores_by_frequency(setup):
    device, transport, bundle, models = setup
    device.set_cpus(online=(0, 1, 2, 7))              # the X1 alone is left of the big cluster
    profile = load_profile("sd888")
    result = preflight.check(transport, profile, bundle, None)
    assert (result.cpus, result.cpu_mask, result.threads) == ((7,), "80", 1)
    facts = result.facts
    assert facts.fastest(2) == (2, 7)                 # X1 first, then the highest-numbered A55 of equal speed


def test_bench_runs_on_the_adapted_cores(setup, tmp_path, monkeypatch):
    device, transport, bundle, models = setup
    monkeypatch.setenv("EDGEVLM_BUILD_DIR", str(tmp_path / "build"))      # the default image is written there
    device.set_cpus(online=(0, 1, 2, 3))
    warnings = []
    result = bench_device(DeviceRequest("sd888", models, transport=transport, bundle=bundle),
                          BenchSpec(repeat=1, warmup=0, prompt_tokens=200, gen=4), warn=warnings.append)
    assert result.error is None, result.error
    [record] = result.records
    assert record.extra["cpu_mask"] == "f" and record.extra["runs"][0]["raw"]["threads"] == 4
    assert [c for c in device.commands if "taskset f ./edgevlm-run" in c]
    assert len(warnings) == 1 and warnings[0].startswith("sd888: cpu_mask f0: none of cpu4,5,6,7 is online")
    again = bench_device(DeviceRequest("sd888", models, threads=8, transport=transport, bundle=bundle),
                         BenchSpec(repeat=1, warmup=0, prompt_tokens=200, gen=4), warn=warnings.append)
    assert again.records[0].extra["runs"][0]["raw"]["threads"] == 4          # --threads 8 capped at the 4 cores
    assert warnings[-1] == "sd888: --threads 8 > 4 cores in use: running 4 threads"


def _nothing_pushed(device) -> bool:
    return not (device.root / WORKDIR).exists()


def test_dotprod_bundle_refused_without_asimddp(setup):
    device, transport, bundle, models = setup
    device.set_cpus(features=FEATURES.replace(" asimddp", ""))
    with pytest.raises(PreflightRefused, match="built for armv8.2-a\\+dotprod\\+fp16 but the CPU lacks asimddp"):
        bench_device(DeviceRequest("sd888", models, transport=transport, bundle=bundle), BenchSpec(repeat=1, warmup=0))
    assert _nothing_pushed(device)


def test_model_larger_than_free_space_refused(setup):
    device, transport, bundle, models = setup
    device.set_free_space(200_000)
    with pytest.raises(PreflightRefused, match="to push but only .* free in the workdir"):
        bench_device(DeviceRequest("sd888", models, transport=transport, bundle=bundle), BenchSpec(repeat=1, warmup=0))
    assert _nothing_pushed(device)


def test_model_larger_than_free_memory_refused(setup):
    device, transport, bundle, models = setup
    device.set_memory(available_kb=300)               # 307 kB free; the model is 400 kB
    with pytest.raises(PreflightRefused, match="the model needs .* of memory .* but only .* is available"):
        bench_device(DeviceRequest("sd888", models, transport=transport, bundle=bundle), BenchSpec(repeat=1, warmup=0))
    assert _nothing_pushed(device)


def test_cli_check_exit_2_and_table(setup, adb_server, monkeypatch, capsys):
    from edgevlm.cli import main

    device, transport, bundle, models = setup
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    main(["devices", "--check", "sd888", "--serial", transport.serial, "--bundle", str(bundle.path),
          "--model", str(models)])
    out = capsys.readouterr().out
    assert "cpu4,5,6,7 (mask f0), 4 threads" in out and "asimddp fphp" in out and "verdict" in out
    device.set_cpus(features="fp asimd")
    with pytest.raises(SystemExit) as refused:
        main(["devices", "--check", "sd888", "--serial", transport.serial, "--bundle", str(bundle.path)])
    assert refused.value.code == 2
    assert "lacks asimddp, fphp" in capsys.readouterr().err


def test_ssh_host_preflight(jetson, tmp_path):
    """The ssh stand-in for the Jetson: a plain Linux host, read through the same probe; the shipped orin profile
    asks for 6 threads, capped at the host's online cores."""
    _, transport = jetson
    result = preflight.check(transport, load_profile("orin"), None, None)
    online = preflight.parse_cpu_list(Path("/sys/devices/system/cpu/online").read_text())   # the same machine
    assert result.facts.online == online and result.cpu_mask == ""
    assert result.threads == min(6, len(result.facts.online))
    assert result.facts.disk_free_bytes and result.facts.mem_available_bytes
