"""A port on this machine that reaches a port on the device's loopback: `adb forward`, an `ssh -L` tunnel, or
nothing (the host serves on the port itself). It lives in the device layer, beside the transports it drives
(`edgevlm serve` asks for one by transport kind through `open_forward`, never naming adb or ssh).

The server on the device listens on 127.0.0.1 only (nothing on the phone's Wi-Fi can reach it); the forward is
the one way in, and it lives exactly as long as `edgevlm serve` does.
"""
from __future__ import annotations

import socket
import subprocess
import time
from abc import ABC, abstractmethod

from edgevlm.device.adb import AdbTransport
from edgevlm.device.ssh import SshTransport
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError, EdgeVLMError

TUNNEL_READY_S = 20.0


class Forward(ABC):
    """local_port on 127.0.0.1 here → remote_port on the device's loopback. close() is idempotent."""

    def __init__(self, local_port: int, remote_port: int):
        self.local_port, self.remote_port = local_port, remote_port

    @abstractmethod
    def close(self) -> None:
        ...

    def __enter__(self) -> "Forward":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Direct(Forward):
    """The device is this machine: its loopback is ours."""

    def __init__(self, port: int):
        super().__init__(port, port)

    def close(self) -> None:
        pass


class AdbForward(Forward):
    """`adb forward tcp:L tcp:R` through the real adb client (the adb server listens on L and opens a `tcp:R`
    stream to the device per connection); removed with `adb forward --remove tcp:L`."""

    def __init__(self, transport: AdbTransport, local_port: int, remote_port: int):
        out = _adb(transport, f"tcp:{local_port}", f"tcp:{remote_port}")
        # with tcp:0 the adb server picks a free port and prints it
        port = int(out.strip()) if local_port == 0 and out.strip().isdigit() else local_port
        super().__init__(port, remote_port)
        self.transport = transport
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                _adb(self.transport, "--remove", f"tcp:{self.local_port}")
            except DeviceError:
                pass          # the adb server or the device is gone: so is the forward


class SshTunnel(Forward):
    """`ssh -N -L 127.0.0.1:L:127.0.0.1:R` with the transport's own options, as a child process of this one."""

    def __init__(self, transport: SshTransport, local_port: int, remote_port: int):
        port = local_port or free_port()
        self.proc = subprocess.Popen(transport.tunnel_argv(port, remote_port), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        super().__init__(port, remote_port)
        try:
            self._wait_ready(transport.name)
        except BaseException:
            self.close()
            raise

    def _wait_ready(self, name: str) -> None:
        deadline = time.monotonic() + TUNNEL_READY_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                detail = self.proc.stderr.read().decode(errors="replace").strip()[-400:]
                raise DeviceError(f"{name}: the ssh tunnel to port {self.remote_port} ended: {detail or 'no output'}",
                                  hint="is AllowTcpForwarding enabled on the device's sshd?")
            if port_open(self.local_port):
                return
            time.sleep(0.05)
        raise DeviceError(f"{name}: the ssh tunnel on 127.0.0.1:{self.local_port} did not open in "
                          f"{TUNNEL_READY_S:g} s")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


def open_forward(transport: Transport, remote_port: int, local_port: int = 0) -> Forward:
    """The forward for the transport's kind (exact match). local_port 0: any free port."""
    if transport.kind == "local":
        return Direct(remote_port)
    if transport.kind == "adb":
        return AdbForward(transport, local_port, remote_port)
    if transport.kind == "ssh":
        return SshTunnel(transport, local_port, remote_port)
    raise DeviceError(f"cannot forward a port over a {transport.kind!r} transport")


def require_free(port: int) -> None:
    """Refuse a local port something already listens on, before anything is pushed or started (a port held
    otherwise, e.g. by connections closing, is left to the bind itself, which says so)."""
    if port and port_open(port):
        raise EdgeVLMError(f"port {port} on 127.0.0.1 is already in use", hint="pick another with --port")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _adb(transport: AdbTransport, *args: str) -> str:
    argv = transport.forward_argv(*args)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{transport.name}: `adb forward {' '.join(args)}` timed out") from None
    if proc.returncode != 0:
        raise DeviceError(f"{transport.name}: `adb forward {' '.join(args)}` failed: "
                          f"{(proc.stderr or proc.stdout).strip()[-300:]}",
                          hint="is the device still connected (adb devices)? is the local port free?")
    return proc.stdout
