"""Fixtures for the device tests: a fake Android phone behind the real adb client, a real sshd on loopback."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from edgevlm.device.adb import AdbTransport
from edgevlm.device.ssh import SshTransport
from tests.fakes.android_sandbox import sandbox_unavailable
from tests.fakes.fake_adbd import FakeAdbDevice
from tests.fakes.sshd import login_unavailable, start_sshd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AdbServer:
    """A private adb server (its own port), so tests never share or disturb a developer's adb server."""

    def __init__(self) -> None:
        self.port = free_port()

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["adb", "-P", str(self.port), *args], capture_output=True, text=True, timeout=timeout)

    def connect(self, port: int) -> str:
        serial = f"127.0.0.1:{port}"
        out = self("connect", serial)
        assert f"connected to {serial}" in out.stdout, out.stdout + out.stderr
        deadline = time.monotonic() + 10
        while f"{serial}\tdevice" not in self("devices").stdout:
            assert time.monotonic() < deadline, "fake device never became 'device'"
            time.sleep(0.1)
        return serial


@pytest.fixture
def adb_server():
    if shutil.which("adb") is None or shutil.which("unshare") is None:
        pytest.fail("adb and unshare are needed (make setup installs adb)")
    server = AdbServer()
    server("start-server")
    yield server
    server("kill-server")


def require_fake_phones() -> None:
    """The fake phones need root or unprivileged user namespaces; elsewhere their tests skip, saying why."""
    if reason := sandbox_unavailable():
        pytest.skip(reason)


@pytest.fixture
def phone(tmp_path, adb_server):
    """(fake device, AdbTransport to it) — the device is a Snapdragon 888 under qemu cortex-a76."""
    require_fake_phones()
    with FakeAdbDevice(tmp_path / "phone") as device:
        serial = adb_server.connect(device.port)
        yield device, AdbTransport(serial, server_port=adb_server.port, default_timeout=120)


@pytest.fixture
def jetson(tmp_path, monkeypatch):
    """(server info, SshTransport) to a real sshd on 127.0.0.1 standing in for a Jetson. Its device lock lives in
    the test's folder: the stand-in shares the host's /tmp with every other test run on this machine."""
    if reason := login_unavailable():
        pytest.skip(reason)
    monkeypatch.setenv("EDGEVLM_DEVICE_LOCK", str(tmp_path / "jetson-lock"))
    proc, server = start_sshd(tmp_path / "sshd")
    transport = SshTransport(server.host, port=server.port, user=server.user, identity_file=str(server.identity_file),
                             known_hosts=str(server.known_hosts), default_timeout=120)
    yield server, transport
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def remote_dir(tmp_path):
    return str(tmp_path / "remote")


def allow_skip_native() -> bool:
    return os.environ.get("EDGEVLM_ALLOW_SKIP_NATIVE") == "1"


def missing_build(message: str):
    """A native build a test needs is missing: a failure, or a skip with EDGEVLM_ALLOW_SKIP_NATIVE=1."""
    if allow_skip_native():
        pytest.skip(message)
    pytest.fail(message)


@pytest.fixture(scope="module")
def android_bundle():
    """The android-arm64 bundle `edgevlm build --target android-arm64` made (static, dotprod+fp16)."""
    from edgevlm.toolchain.bundle import load_bundle

    bundle = load_bundle("android-arm64")
    if bundle is None or not bundle.has("edgevlm-run"):
        missing_build("android-arm64 bundle with edgevlm-run not built: run `edgevlm build --target android-arm64`")
    return bundle
