"""Device faults, injected into the fake phone (real adb client) and the real sshd: each is a clear DeviceError.

unplugged mid-push (the fake closes the TCP connection after 1 MB of a 3 MB push), no space left (the fake's
/data has 100 kB free), a binary killed by a signal (the fake SIGKILLs the matching process, like the low-memory
killer), a timeout (a command outliving its deadline).
"""
from __future__ import annotations

import os

import pytest

from edgevlm.errors import DeviceError

DEST = "/data/local/tmp/faults/model.gguf"


def test_connection_dropped_mid_push(phone, tmp_path):
    device, transport = phone
    payload = tmp_path / "model.gguf"
    payload.write_bytes(os.urandom(3_000_000))
    device.faults.drop_push_after_bytes = 1_000_000
    with pytest.raises(DeviceError, match="connection to the device lost while pushing model.gguf"):
        transport.push(payload, DEST)
    assert device.faults.fired[0].startswith("drop after")
    assert not (device.root / DEST.lstrip("/")).exists()        # no half file under the real name


def test_no_space_left(phone, tmp_path):
    device, transport = phone
    payload = tmp_path / "model.gguf"
    payload.write_bytes(os.urandom(1_000_000))
    device.faults.free_bytes = 100_000
    with pytest.raises(DeviceError, match="no space left on the device while pushing model.gguf"):
        transport.push(payload, DEST)
    assert "disk full" in device.faults.fired
    assert not (device.root / DEST.lstrip("/")).exists()


def test_binary_killed_by_signal(phone):
    device, transport = phone
    device.faults.kill_pattern = "sleep 30"
    result = transport.shell("sleep 30")
    assert result.code == 137 and result.signal == 9, result
    assert device.faults.fired == ["kill sleep 30"]


def test_timeout(phone):
    _, transport = phone
    with pytest.raises(DeviceError, match="timed out after 2 s"):
        transport.shell("sleep 20", timeout=2)


def test_ssh_host_unreachable_is_clear(tmp_path):
    from tests.devices.conftest import free_port
    from edgevlm.device.ssh import SshTransport

    transport = SshTransport("127.0.0.1", port=free_port(), identity_file=str(tmp_path / "none"), connect_timeout=3)
    with pytest.raises(DeviceError, match="(?s)cannot reach the device.*Connection refused"):
        transport.shell("true")


def test_ssh_timeout(jetson):
    _, transport = jetson
    with pytest.raises(DeviceError, match="timed out after 2 s"):
        transport.shell("sleep 20", timeout=2)
