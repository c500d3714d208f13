"""A timeout or Ctrl-C ends the process on the device too, not only the local adb / ssh client.

Real adbd and sshd leave a command without a tty running when the client goes away, and the fake phone does the
same (its shell service keeps the process); so without the recorded pid + remote kill, these tests would find
the process still there.
"""
from __future__ import annotations

import os
import shutil
import signal
import threading
import time

import psutil
import pytest

from edgevlm.bench.runner import BenchSpec
from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.session import bench_device
from edgevlm.toolchain.bundle import Bundle
from edgevlm.device.tracked import run_tracked
from tests.fakes.standin_run import random_model, standin_bundle


def _left(marker: str) -> list[str]:
    """Command lines of processes on this machine (the fake phone's and the ssh host's) that mention marker."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if marker in line and proc.pid != os.getpid():
            found.append(line)
    return found


def _wait_gone(marker: str, seconds: float = 10) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := _left(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture
def slow_bundle(tmp_path):
    """A stand-in edgevlm-run that takes 60 s (same options as the real one), in a uniquely named folder."""
    bundle = standin_bundle(tmp_path / "bundle", "host", sleep_s=60, cmake_defs={})
    models = random_model(tmp_path / "model", 1000, 1000)
    return bundle, models


def _profile(tmp_path, monkeypatch, text: str) -> None:
    devices = tmp_path / "devices"
    devices.mkdir(exist_ok=True)
    (devices / "target.toml").write_text(text)
    monkeypatch.setenv("EDGEVLM_DEVICES_DIR", str(devices))
    monkeypatch.setenv("EDGEVLM_BUILD_DIR", str(tmp_path / "build"))


def test_timeout_kills_edgevlm_run_on_the_phone(phone, slow_bundle, tmp_path, monkeypatch):
    device, transport = phone
    bundle, models = slow_bundle
    _profile(tmp_path, monkeypatch, 'name = "target"\ntarget = "android-arm64"\ntransport = "adb"\n'
                                    'workdir = "/data/local/tmp/kill"\n[run]\nthreads = 4\ncpu_mask = "f0"\n')
    result = bench_device(DeviceRequest("target", models, transport=transport,
                                        bundle=Bundle("android-arm64", bundle.path, bundle.info)),
                          BenchSpec(repeat=1, warmup=0, timeout_s=3))
    assert "timed out after 3 s" in result.error
    assert _wait_gone("/data/local/tmp/kill/models") == []          # edgevlm-run's -m argument: none left
    assert list((device.root / "data/local/tmp/kill/scratch").iterdir()) == []   # the session's folder went


def test_timeout_kills_edgevlm_run_on_the_ssh_host(jetson, slow_bundle, tmp_path, monkeypatch):
    server, transport = jetson
    bundle, models = slow_bundle
    workdir = tmp_path / "jetson-workdir"
    _profile(tmp_path, monkeypatch, f'name = "target"\ntarget = "jetson-orin"\ntransport = "ssh"\n'
                                    f'workdir = "{workdir}"\n[run]\nthreads = 1\n[ssh]\nhost = "127.0.0.1"\n')
    result = bench_device(DeviceRequest("target", models, transport=transport, bundle=bundle),
                          BenchSpec(repeat=1, warmup=0, timeout_s=3))
    assert "timed out after 3 s" in result.error
    assert _wait_gone(f"{workdir}/models") == []
    assert list((workdir / "scratch").iterdir()) == []


def test_ctrl_c_kills_the_remote_process(jetson, tmp_path):
    _, transport = jetson
    marker = f"sleep-{time.monotonic_ns()}"
    script = tmp_path / marker
    shutil.copy2(shutil.which("sleep"), script)          # a long-running program with a name of its own
    timer = threading.Timer(2.0, lambda: os.kill(os.getpid(), signal.SIGINT))   # the user's Ctrl-C
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_tracked(transport, f"{script} 60", pid_file=str(tmp_path / "pid"), name=marker, timeout=60)
    finally:
        timer.cancel()
    assert _wait_gone(marker) == []
