"""A real two-node Ray lab on 127.0.0.1: `edgevlm lab head` and `edgevlm lab join`, each with its own adb server
and one fake phone (tests/fakes), so each node sees only its own phone. Stopped (process group, then any
straggler that carries this lab's node registry in its environment) after the test.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.devices.conftest import AdbServer, free_port, require_fake_phones
from tests.fakes.fake_adbd import FakeAdbDevice
from tests.servers.fixtures import pg_url, postgres_server  # noqa: F401  (fixtures)

EDGEVLM = [sys.executable, "-m", "edgevlm"]
PROFILE = """name = "{name}"
target = "android-arm64"
transport = "adb"
workdir = "/data/local/tmp/{token}-{name}"
[run]
threads = 2
cpu_mask = "f0"
[thermal]
zones = ["/sys/class/thermal/thermal_zone0/temp"]
throttle_c = 70.0
cooldown_c = 45.0
cooldown_max_s = 1
"""


@dataclass
class Node:
    proc: subprocess.Popen
    log: Path
    phones: list[FakeAdbDevice]
    adb: AdbServer
    serials: list[str]

    @property
    def phone(self) -> FakeAdbDevice:
        return self.phones[0]

    @property
    def serial(self) -> str:
        return self.serials[0]


@dataclass
class Lab:
    root: Path
    port: int
    nodes: list[Node] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([*EDGEVLM, *args], capture_output=True, text=True, timeout=timeout)

    def start_node(self, name: str, profile: str, *, head: bool, cpu_cores: tuple[int, ...] | None = None,
                   phones: int = 1) -> Node:
        """A node with `phones` fake phones behind its own adb server (the profile takes them all)."""
        adb = AdbServer()
        adb("start-server")
        devices, serials = [], []
        for i in range(phones):
            phone = FakeAdbDevice(self.root / f"{name}-{i}").__enter__()
            if cpu_cores is not None:
                phone.set_cpus(cpu_cores)
            devices.append(phone)
            serials.append(adb.connect(phone.port))
        log = self.root / f"{name}.log"
        where = ["head", "--port", str(self.port)] if head else ["join", self.address]
        argv = [*EDGEVLM, "lab", *where, "--node-ip-address", "127.0.0.1", "--profile", profile,
                "--adb-port", str(adb.port), "--num-cpus", "1", "--object-store-mb", "100"]
        proc = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        node = Node(proc, log, devices, adb, serials)
        self.nodes.append(node)
        return node

    def wait_for_devices(self, serials: list[str], timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            out = self.cli("lab", "status", "--address", self.address, timeout=120)
            if out.returncode == 0 and all(s in out.stdout for s in serials):
                return out.stdout
            if time.monotonic() > deadline:
                logs = "\n".join(n.log.read_text()[-2000:] for n in self.nodes)
                raise AssertionError(f"lab never showed {serials}:\n{out.stdout}{out.stderr}\n{logs}")
            time.sleep(2)

    def kill_node(self, node: Node) -> None:
        """The host dies: every process of that node at once, no goodbye."""
        _kill_group(node.proc, signal.SIGKILL)
        for proc in _lab_processes(self.root, registry_of=node):
            proc.kill()

    def stop(self) -> None:
        for node in reversed(self.nodes):
            _kill_group(node.proc, signal.SIGTERM)
        time.sleep(1)
        for node in self.nodes:
            _kill_group(node.proc, signal.SIGKILL)
        for proc in _lab_processes(self.root):
            proc.kill()
        for node in self.nodes:
            node.adb("kill-server")
            for phone in node.phones:
                phone.__exit__(None, None, None)


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)   # the group this test started (start_new_session)
    except ProcessLookupError:
        pass
    if sig == signal.SIGKILL:
        proc.wait(timeout=30)


def _lab_processes(root: Path, registry_of: Node | None = None) -> list[psutil.Process]:
    """Ray processes of this lab that left the process group: they inherit EDGEVLM_LAB_NODE, which points into
    this test's folder (XDG_RUNTIME_DIR below)."""
    found = []
    for proc in psutil.process_iter():
        try:
            node_env = proc.environ().get("EDGEVLM_LAB_NODE", "")
        except (psutil.Error, OSError):
            continue
        if node_env.startswith(str(root)) and (registry_of is None or f"node-{registry_of.adb.port}-" in node_env):
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def lab_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    devices = root / "devices"
    devices.mkdir()
    for name in ("fakephone-a", "fakephone-b", "fakephone"):
        (devices / f"{name}.toml").write_text(PROFILE.format(name=name, token=workdir_token(root)))
    saved = {k: os.environ.get(k) for k in ("EDGEVLM_DEVICES_DIR", "EDGEVLM_LAB_CACHE", "XDG_RUNTIME_DIR")}
    os.environ.update(EDGEVLM_DEVICES_DIR=str(devices), EDGEVLM_LAB_CACHE=str(root / "cache"),
                      XDG_RUNTIME_DIR=str(root / "run"))
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def workdir_token(root: Path) -> str:
    """Unique per lab: the profiles' device workdirs carry it, so a device process of this lab is recognisable
    by its command line (the model path) among everything else running on this machine."""
    return f"lab-{root.name}"


def start_lab(root: Path, profiles: tuple[str, str], cores: tuple = (None, None), phones: int = 1) -> Lab:
    require_fake_phones()
    lab = Lab(root, free_port())
    head = lab.start_node("head", profiles[0], head=True, cpu_cores=cores[0], phones=phones)
    lab.wait_for_devices(head.serials)
    worker = lab.start_node("worker", profiles[1], head=False, cpu_cores=cores[1], phones=phones)
    lab.wait_for_devices(head.serials + worker.serials)
    return lab


def write_matrix(path: Path, models: list[Path], profiles: list[str], *, repeats: int, bundle: Path,
                 branch: str, commit: str, retries: int = 1, extra: str = "") -> Path:
    model_list = ", ".join(f'"{m}"' for m in models)
    profile_list = ", ".join(f'"{p}"' for p in profiles)
    path.write_text(f"""name = "{path.stem}"
commit = "{commit}"
branch = "{branch}"
models = [{model_list}]
profiles = [{profile_list}]
repeats = {repeats}
reps = 2
warmup = 0
retries = {retries}
{extra}
[[workloads]]
name = "text"
prompt_tokens = 16
gen = 4
image = false

[bundles]
android-arm64 = "{bundle}"
""")
    return path
