"""Item 1: a device runs one bench at a time, and each run owns its files.

Before: two `bench --device host` at once used the same bench-scratch/run-N.json and run.pid: their runs
overlapped and one stored the other's sample. Now the second waits for the device lock (saying so) or, with
--no-wait, exits 3 with "device busy: held by …"; each session's scratch folder is its own and goes with it.
"""
from __future__ import annotations

import json
import os
import socket
import time

from edgevlm.device.local import LocalTransport
from edgevlm.device.lock import Owner, acquire, try_device_lock
from edgevlm.errors import DeviceBusy
from tests.misuse.conftest import Env, one_line_error, wait_for


def test_two_benches_on_one_device_never_overlap(tmp_path):
    env = Env(tmp_path, sleep_s=0.5)
    q4, q8 = env.model("m4", "Q4_0"), env.model("m8", "Q8_0")
    first = env.start(*env.bench_args(q4, "--json", str(tmp_path / "a.json"), repeat=8))   # 4 s: still busy
    wait_for(lambda: env.started() >= 1, what="the first bench's first run")
    second = env.start(*env.bench_args(q8, "--json", str(tmp_path / "b.json"), repeat=3))
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert "busy: held by edgevlm bench" in err2                      # the waiting one said why it waits
    runs = sorted(env.runs())
    assert len(runs) == 11
    for (_, end, _), (start, _, _) in zip(runs, runs[1:]):
        assert end <= start, runs                                      # no two runs on the device at once
    for name, n in (("a.json", 8), ("b.json", 3)):
        [record] = json.loads((tmp_path / name).read_text())
        assert record["model_name"] == "tiny" and len(record["samples"]["decode_tps"]["values"]) == n
        assert {r["raw"]["prompt_tokens"] for r in record["extra"]["runs"]} == {16}
    # each bench ran its own model file, all its runs in a row
    assert [m.split("/")[-2] for _, _, m in runs] == ["m4"] * 8 + ["m8"] * 3
    assert os.listdir(env.tmp) == []                                  # both scratch folders removed


def test_no_wait_exits_3_naming_the_holder(env):
    model = env.model()
    held = env.start(*env.bench_args(model, repeat=20))
    try:
        wait_for(lambda: env.started() >= 1, what="the first bench")
        result = env.run(*env.bench_args(model, "--no-wait"))
    finally:
        held.kill()
        held.communicate()
    assert result.returncode == 3, result.stderr
    assert "device busy:" in one_line_error(result) and f"pid {held.pid}" in result.stderr


def test_a_dead_owners_lock_is_no_lock(env, monkeypatch):
    """flock: the kernel drops the lock of a killed owner (SIGKILL gives it no chance to clean up)."""
    model = env.model()
    held = env.start(*env.bench_args(model, repeat=20))
    wait_for(lambda: env.started() >= 1, what="the first bench")
    held.kill()
    held.communicate()
    result = env.run(*env.bench_args(model, "--no-wait"))
    assert result.returncode == 0, result.stderr


def test_lock_on_the_phone(phone, monkeypatch):
    """On an adb device the lock is a folder ON the device, naming the owner's host and pid."""
    device, transport = phone
    lock = acquire(transport)
    try:
        owner = json.loads((device.root / "data/local/tmp/.edgevlm-lock/owner").read_text())
        assert owner["host"] == socket.gethostname() and owner["pid"] == os.getpid()
        assert try_device_lock(transport) is None                     # held: a second taker is refused
        try:
            acquire(transport, wait=False)
            raise AssertionError("a held lock was taken twice")
        except DeviceBusy as exc:
            assert f"pid {os.getpid()}" in str(exc)
    finally:
        lock.release()
    assert not (device.root / "data/local/tmp/.edgevlm-lock").exists()
    again = try_device_lock(transport)
    assert again is not None
    again.release()


def test_stale_locks_are_broken_on_the_ssh_host(jetson, tmp_path, monkeypatch):
    """A lock whose owner ran here and is gone is broken at once; one from another machine is broken when its
    heartbeat is older than STALE_S, and kept while it is fresh."""
    _, transport = jetson
    path = tmp_path / "device-lock"
    monkeypatch.setenv("EDGEVLM_DEVICE_LOCK", str(path))
    path.mkdir()
    dead = Owner(socket.gethostname(), 2 ** 22 + 17, "1", time.time(), "edgevlm bench")   # no such pid
    (path / "owner").write_text(dead.text())
    lock = try_device_lock(transport)
    assert lock is not None
    lock.release()

    path.mkdir()
    (path / "owner").write_text(Owner("lab-host-2", 4242, "1", time.time(), "edgevlm bench").text())
    assert try_device_lock(transport) is None                         # fresh heartbeat on another machine
    old = time.time() - 600
    os.utime(path / "owner", (old, old))
    lock = try_device_lock(transport)
    assert lock is not None                                           # 10 minutes without a heartbeat
    lock.release()
    assert not path.exists()


def test_local_lock_names_this_machine_once(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEVLM_LOCK_DIR", str(tmp_path))
    with acquire(LocalTransport("host")):
        assert try_device_lock(LocalTransport("arm64-sim")) is None    # any local profile: the same machine
    assert try_device_lock(LocalTransport("host")) is not None
