"""Port forwards through the real clients: `adb forward` to the fake phone's `tcp:` service, `ssh -L` to a real
sshd. A plain echo server on the "device's" loopback is the far end, so the bytes are checked, not just a
connection: what goes in comes back, in order, both ways, and a closed client closes the far connection."""
from __future__ import annotations

import socket
import threading

import pytest

from edgevlm.device.forward import AdbForward, SshTunnel, open_forward, port_open


class EchoServer:
    """Echoes each connection's bytes; counts connections that ended (the far side saw the client go)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ended = threading.Semaphore(0)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)
        self.ended.release()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


def _roundtrip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(65536)
            assert chunk, "forward closed early"
            got += chunk
        sender.join()
    return got


PAYLOAD = bytes(range(256)) * 3000          # 768 KB: several adb packets (256 KB max) and acks each way


def test_adb_forward_to_the_fake_phone(phone, adb_server, echo):
    device, transport = phone
    forward = open_forward(transport, echo.port)
    assert isinstance(forward, AdbForward) and forward.local_port and forward.local_port != echo.port
    try:
        assert f"tcp:{forward.local_port} tcp:{echo.port}" in adb_server("forward", "--list").stdout
        assert _roundtrip(forward.local_port, PAYLOAD) == PAYLOAD
        assert echo.ended.acquire(timeout=30)            # client closed → device-side connection closed
        assert device.forwarded == [echo.port]
    finally:
        forward.close()
    assert f"tcp:{forward.local_port}" not in adb_server("forward", "--list").stdout
    assert not port_open(forward.local_port)


def test_adb_forward_to_a_closed_port_fails_the_connection_not_the_phone(phone, echo):
    _, transport = phone
    closed = socket.create_server(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    with open_forward(transport, dead_port) as forward:
        with socket.create_connection(("127.0.0.1", forward.local_port), timeout=30) as sock:
            assert sock.recv(10) == b""                   # adbd refused the stream: the connection just ends
    with open_forward(transport, echo.port) as forward:  # the phone still serves
        assert _roundtrip(forward.local_port, b"still here") == b"still here"


def test_ssh_tunnel_to_a_real_sshd(jetson, echo):
    _, transport = jetson
    forward = open_forward(transport, echo.port)
    assert isinstance(forward, SshTunnel)
    try:
        assert _roundtrip(forward.local_port, PAYLOAD) == PAYLOAD
        assert echo.ended.acquire(timeout=30)
    finally:
        forward.close()
    assert forward.proc.poll() is not None and not port_open(forward.local_port)
