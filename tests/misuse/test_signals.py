"""Item 5: SIGINT, SIGTERM and SIGHUP to an edgevlm command end every process it started, here and on the device.

Before: SIGTERM killed Python on the spot (no clean-up ran), leaving the shell and edgevlm-run running; SIGINT
during `--with-stock` left llama-mtmd-cli running (started through a plain shell call, not the tracked runner).
Each test starts the real `edgevlm bench` with a stand-in that sleeps for a duration no other process uses (its
`sleep` child names it), signals it once that process runs, and then looks for any process left: on the host,
on the fake phone (its processes are this machine's, in a chroot) and on the ssh stand-in (also this machine).
"""
from __future__ import annotations

import signal

import pytest

from edgevlm.device.local import LocalTransport
from edgevlm.device.lock import try_device_lock
from tests.fakes.standin_run import standin_bundle
from tests.misuse.conftest import Env, signal_and_check, unique_sleep

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_ends_edgevlm_run_on_the_host(tmp_path, monkeypatch, sig):
    marker = unique_sleep()
    env = Env(tmp_path, sleep_s=float(marker))
    bench = env.start(*env.bench_args(env.model()))
    signal_and_check(bench, marker, sig)
    assert list(env.tmp.iterdir()) == []                # the session's scratch folder went too
    monkeypatch.setenv("EDGEVLM_LOCK_DIR", env.vars["EDGEVLM_LOCK_DIR"])
    lock = try_device_lock(LocalTransport("host"))      # and the device is free
    assert lock is not None
    lock.release()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_ends_stock_llama_mtmd_cli(tmp_path, test_image, sig):
    marker = unique_sleep()
    env = Env(tmp_path, sleep_s=0.1)
    (env.bundle / "llama-bench").write_text("#!/bin/sh\necho '[]'\n")
    (env.bundle / "llama-mtmd-cli").write_text(f"#!/bin/sh\nsleep {marker}\n")
    for tool in ("llama-bench", "llama-mtmd-cli"):
        (env.bundle / tool).chmod(0o755)
    args = env.bench_args(env.model(), "--with-stock", repeat=1)
    args[args.index("--no-image")] = "--image"
    args.insert(args.index("--image") + 1, str(test_image))
    bench = env.start(*args)
    signal_and_check(bench, marker, sig)


def _remote_profile(tmp_path, text: str) -> dict:
    devices = tmp_path / "devices"
    devices.mkdir(exist_ok=True)
    (devices / "target.toml").write_text(text)
    return {"EDGEVLM_DEVICES_DIR": str(devices), "EDGEVLM_DEVICE_LOCK": str(tmp_path / "device-lock")}


@pytest.mark.slow
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_ends_edgevlm_run_on_the_phone(phone, adb_server, tmp_path, sig):
    device, transport = phone
    marker = unique_sleep()
    env = Env(tmp_path / "env")
    bundle = standin_bundle(tmp_path / "phone-bundle", "android-arm64", sleep_s=float(marker), cmake_defs={})
    workdir = f"/data/local/tmp/sig{marker.replace('.', '')}"
    env.vars.update(_remote_profile(tmp_path, f'name = "target"\ntarget = "android-arm64"\ntransport = "adb"\n'
                                              f'workdir = "{workdir}"\n[run]\nthreads = 4\ncpu_mask = "f0"\n'
                                              f'[adb]\nserial = "{transport.serial}"\n'),
                    ANDROID_ADB_SERVER_PORT=str(adb_server.port))
    env.vars["EDGEVLM_DEVICE_LOCK"] = "/data/local/tmp/.edgevlm-lock"
    args = env.bench_args(env.model())
    args[args.index("--device") + 1] = "target"
    args[args.index("--bundle") + 1] = str(bundle.path)
    bench = env.start(*args)
    signal_and_check(bench, marker, sig)
    assert list((device.root / workdir.lstrip("/") / "scratch").iterdir()) == []
    assert not (device.root / "data/local/tmp/.edgevlm-lock").exists()        # the lock on the phone is freed


@pytest.mark.slow
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_signal_ends_edgevlm_run_on_the_ssh_host(jetson, tmp_path, sig):
    server, _ = jetson
    marker = unique_sleep()
    env = Env(tmp_path / "env")
    bundle = standin_bundle(tmp_path / "ssh-bundle", "host", sleep_s=float(marker), cmake_defs={})
    workdir = tmp_path / "jetson-workdir"
    env.vars.update(_remote_profile(tmp_path, f'name = "target"\ntarget = "jetson-orin"\ntransport = "ssh"\n'
                                              f'workdir = "{workdir}"\n[run]\nthreads = 1\n[ssh]\n'
                                              f'host = "{server.host}"\nport = {server.port}\nuser = "{server.user}"\n'
                                              f'identity_file = "{server.identity_file}"\n'
                                              f'known_hosts = "{server.known_hosts}"\n'))
    args = env.bench_args(env.model())
    args[args.index("--device") + 1] = "target"
    args[args.index("--bundle") + 1] = str(bundle.path)
    bench = env.start(*args)
    signal_and_check(bench, marker, sig)
    assert list((workdir / "scratch").iterdir()) == []
    assert not (tmp_path / "device-lock").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: signal.Signals(s).name)
def test_signal_ends_run_on_the_host_device(tmp_path, sig):
    """`edgevlm run --device host`: before, SIGTERM left the shell and edgevlm-run running."""
    marker = unique_sleep()
    env = Env(tmp_path, sleep_s=float(marker))
    env.model("model")
    run = env.start("run", "--device", "host", "model", "-p", "hi", "--bundle", str(env.bundle))
    signal_and_check(run, marker, sig)
    assert list(env.tmp.iterdir()) == []
