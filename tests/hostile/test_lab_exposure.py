"""The lab is closed by default (issue 18, item 7): `lab head` listens on 127.0.0.1 only unless --listen says
otherwise; Ray's token authentication is on with --auth-token (a driver without the token is refused); edgevlm
says so when a node listens beyond loopback with authentication off; any signal to `lab head` alone (not its
process group) stops every Ray daemon of the node: no process of it remains and no port it opened stays open.
Real `ray start` daemons, started by the real command."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.devices.conftest import free_port

EDGEVLM = [sys.executable, "-m", "edgevlm"]
pytestmark = pytest.mark.slow
# Ray turns token authentication on by itself when it finds ~/.ray/auth_token (its own ray.init writes one);
# the unauthenticated heads opt out explicitly, as a user would
OFF = {"RAY_AUTH_MODE": "disabled"}


def _outward_ip() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the outward interface
            return s.getsockname()[0]
        except OSError:
            pytest.skip("this machine has no address beyond loopback")


def _node_processes(root: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("EDGEVLM_LAB_NODE", "").startswith(str(root)):
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def _listening(procs: list[psutil.Process]) -> set[tuple[str, int]]:
    out = set()
    for proc in procs:
        try:
            out |= {(c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet") if c.status == "LISTEN"}
        except psutil.Error:
            continue
    return out


class Head:
    def __init__(self, root: Path, *args: str, env: dict | None = None):
        self.root, self.port = root, free_port()
        self.log = root / "head.log"
        root.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(root), **(env or {})}
        self.proc = subprocess.Popen([*EDGEVLM, "lab", "head", "--port", str(self.port), "--num-cpus", "1",
                                      "--object-store-mb", "100", *args], env=self.env,
                                     stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)

    def wait_listening(self, timeout: float = 120) -> set[tuple[str, int]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ports = _listening(_node_processes(self.root))
            if any(port == self.port for _, port in ports) and len(ports) >= 3:  # gcs + raylet's two
                return ports
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            time.sleep(1)
        raise AssertionError(f"the head never listened:\n{self.log.read_text()[-3000:]}")

    def cleanup(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for proc in _node_processes(self.root):
            proc.kill()


@pytest.fixture
def heads(tmp_path):
    made: list[Head] = []

    def start(name: str, *args: str, env: dict | None = None) -> Head:
        made.append(Head(tmp_path / name, *args, env=env))
        return made[-1]

    yield start
    for head in made:
        head.cleanup()


def _stop_and_check(head: Head, sig: int, ports: set[tuple[str, int]]) -> None:
    os.kill(head.proc.pid, sig)  # the edgevlm process alone, as `kill` or a supervisor does
    head.proc.wait(timeout=90)
    assert _node_processes(head.root) == [], "Ray processes of the node survived " + str(sig)
    for ip, port in ports:
        host = ip.removeprefix("::ffff:")  # an IPv4 address on a dual-stack socket
        with socket.socket(socket.AF_INET if "." in host else socket.AF_INET6) as s:
            s.settimeout(2)
            assert s.connect_ex((host, port)) != 0, f"{host}:{port} still accepts connections"


def test_default_head_listens_on_loopback_only_and_sigint_stops_everything(heads):
    head = heads("loopback", env=OFF)
    ports = head.wait_listening()
    outside = {(ip, port) for ip, port in ports if not ip.removeprefix("::ffff:").startswith("127.")}
    assert not outside, f"listening beyond loopback: {outside}"  # main: *:PORT gcs_server, *:N raylet
    assert "token authentication off" in head.log.read_text()
    assert "warning" not in head.log.read_text().lower().split("token authentication off")[1][:200]
    _stop_and_check(head, signal.SIGINT, ports)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_listen_beyond_loopback_without_token_warns_and_any_signal_stops_the_node(heads, sig):
    ip = _outward_ip()
    head = heads(f"open-{sig}", "--listen", ip, env=OFF)
    ports = head.wait_listening()
    # Ray binds a non-loopback node's ports to every interface (it has no per-address bind): reachable at IP
    assert any(a.removeprefix("::ffff:") in (ip, "0.0.0.0", "::") for a, _ in ports), ports
    log = " ".join(head.log.read_text().split())
    assert f"this node listens on {ip} with token authentication off" in log
    _stop_and_check(head, sig, ports)


def test_token_authentication_refuses_a_driver_without_the_token(heads, tmp_path):
    ip = _outward_ip()
    token = tmp_path / "lab-token"
    token.write_text("edgevlm-test-" + os.urandom(16).hex())
    token.chmod(0o600)
    head = heads("secured", "--listen", ip, "--auth-token", str(token))
    ports = head.wait_listening()
    log = " ".join(head.log.read_text().split())
    assert "token authentication on" in log and "with token authentication off" not in log
    address = f"{ip}:{head.port}"
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}  # a driver without the token
    denied = subprocess.run([*EDGEVLM, "lab", "status", "--address", address], capture_output=True, text=True,
                            timeout=180, env=env)
    assert denied.returncode != 0 and "Traceback" not in denied.stderr, denied.stderr[-2000:]
    allowed = subprocess.run([*EDGEVLM, "lab", "status", "--address", address, "--auth-token", str(token)],
                             capture_output=True, text=True, timeout=180)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert token.read_text() not in head.log.read_text() + denied.stderr + allowed.stdout + allowed.stderr
    _stop_and_check(head, signal.SIGTERM, ports)


def test_join_on_loopback_to_a_remote_head_is_refused_before_ray_starts():
    proc = subprocess.run([*EDGEVLM, "lab", "join", "192.0.2.77:6379"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--listen" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
