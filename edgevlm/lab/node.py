"""``edgevlm lab head|join``: this host's devices, preflighted, advertised to Ray as custom resources.

Each healthy device becomes three resources on this node: ``device:<serial>`` (1), ``profile:<name>`` (how
many devices of that profile the node holds) and ``profile:<name>/device:<serial>`` (1, so a driver can tell
which device is of which profile and pin a retry to one). A device whose preflight fails is not advertised;
the reason is printed. The node's device list (with its private adb server port) is written to a registry file
whose path the Ray worker processes inherit through ``EDGEVLM_LAB_NODE``.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edgevlm.bench.sim import sim_problems
from edgevlm.device import preflight
from edgevlm.device.connect import attached_serials, transport_for
from edgevlm.device.profiles import load_profile
from edgevlm.errors import EdgeVLMError, LabError
from edgevlm.files import write_text
from edgevlm.toolchain.bundle import local_bundle

NODE_ENV = "EDGEVLM_LAB_NODE"


@dataclass(frozen=True)
class LabDevice:
    serial: str                 # adb serial, ssh host, "local:<hostname>" or "sim:<hostname>"
    profile: str
    transport: str              # the profile's transport: adb | ssh | local | sim
    healthy: bool = True
    reason: str = ""            # why it is not advertised
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeRegistry:
    """What a worker needs to reach this node's devices."""
    adb_port: int | None
    devices: tuple[LabDevice, ...]

    def healthy(self) -> list[LabDevice]:
        return [d for d in self.devices if d.healthy]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps({"adb_port": self.adb_port, "devices": [asdict(d) for d in self.devices]}))

    @classmethod
    def load(cls, path: str | Path) -> "NodeRegistry":
        data = json.loads(Path(path).read_text())
        devices = tuple(LabDevice(**{**d, "warnings": tuple(d.get("warnings", ()))}) for d in data["devices"])
        return cls(data["adb_port"], devices)


def this_node() -> NodeRegistry:
    """Inside a Ray worker: the registry of the node it runs on."""
    path = os.environ.get(NODE_ENV)
    if not path:
        raise LabError(f"{NODE_ENV} is not set: this Ray node was not started by `edgevlm lab head|join`")
    return NodeRegistry.load(path)


def resources(registry: NodeRegistry) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in registry.healthy():
        out[f"device:{d.serial}"] = 1.0
        out[f"profile:{d.profile}"] = out.get(f"profile:{d.profile}", 0.0) + 1.0
        out[f"profile:{d.profile}/device:{d.serial}"] = 1.0
    return out


def discover(profile_names: list[str], adb_port: int | None, bundle_dir: Path | None = None) -> NodeRegistry:
    """The devices of the named profiles on this host, each preflighted.

    adb profiles claim their ``[adb] serial``; an adb profile without one claims every connected adb device no
    other profile claimed. ssh and local profiles are one device each (their host, or this machine); a sim profile
    (arm64-sim) is qemu on this machine, checked for the counting tools instead of preflighted."""
    profiles = [load_profile(name) for name in profile_names]
    attached = attached_serials(adb_port) if any(p.transport == "adb" for p in profiles) else []
    claimed = {p.adb.serial for p in profiles if p.transport == "adb" and p.adb.serial}
    found: list[LabDevice] = []
    for p in profiles:
        if p.transport == "adb":
            serials = [p.adb.serial] if p.adb.serial else [s for s in attached if s not in claimed]
            for serial in serials:
                found.append(_checked(p, serial, adb_port, bundle_dir) if serial in attached else
                             LabDevice(serial, p.name, "adb", False, "not attached (adb devices does not list it)"))
        elif p.transport == "ssh":
            found.append(_checked(p, p.ssh.host, adb_port, bundle_dir))
        elif p.transport == "sim":
            found.append(_sim_checked(p))
        else:
            found.append(_checked(p, f"local:{socket.gethostname()}", adb_port, bundle_dir))
    return NodeRegistry(adb_port, tuple(found))


def transport_of(profile, device: LabDevice, adb_port: int | None):
    return transport_for(profile, serial=device.serial if device.transport == "adb" else None,
                         adb_server_port=adb_port)


def _checked(profile, serial: str, adb_port: int | None, bundle_dir: Path | None) -> LabDevice:
    """Preflight one device (cores, features vs the bundle, thermal zones); any refusal keeps it out."""
    device = LabDevice(serial, profile.name, profile.transport)
    try:
        bundle = local_bundle(profile.target, bundle_dir)
        result = preflight.check(transport_of(profile, device, adb_port), profile, bundle)
    except EdgeVLMError as exc:  # unreachable, unauthorised, no profile, no bundle: not advertised
        return LabDevice(serial, profile.name, profile.transport, False, str(exc).splitlines()[0])
    if result.refusals:
        return LabDevice(serial, profile.name, profile.transport, False, "; ".join(result.refusals))
    return LabDevice(serial, profile.name, profile.transport, True, "", tuple(result.warnings))


def _sim_checked(profile) -> LabDevice:
    """qemu on this host stands for the device: no device preflight (an x86 host would be refused for an arm64
    bundle); the tools that count must be here. Its own serial, so a `local` profile on the same host stays a
    separate device (both share this host's one lock, edgevlm.device.lock: a qemu count would slow a wall-clock
    run)."""
    problems = sim_problems()
    return LabDevice(f"sim:{socket.gethostname()}", profile.name, "sim", not problems, "; ".join(problems))


def registry_path(adb_port: int | None) -> Path:
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / "edgevlm-lab"
    return base / f"node-{adb_port or 'default'}-{os.getpid()}.json"


def ray_temp_dir() -> Path:
    """This user's Ray folder. Ray's default, /tmp/ray, is shared by every user of the host, and once another
    user's ``ray start`` has written its ``ray_current_cluster`` file there, ours fails with a traceback."""
    return Path(tempfile.gettempdir()) / f"ray-{os.getuid()}"


def ray_start_argv(*, head: bool, address: str | None, port: int, node_ip: str | None, registry: NodeRegistry,
                   num_cpus: int | None, object_store_mb: int | None, dashboard: bool) -> list[str]:
    """``ray start`` (through edgevlm.lab.raystart, so 127.0.0.1 stays loopback), blocking in the foreground."""
    argv = [sys.executable, "-m", "edgevlm.lab.raystart", "start", "--block", "--disable-usage-stats",
            f"--resources={json.dumps(resources(registry))}"]
    argv += [f"--port={port}", f"--include-dashboard={'true' if dashboard else 'false'}", "--head"] if head else \
        [f"--address={address}"]
    argv.append(f"--temp-dir={ray_temp_dir()}")
    if node_ip:
        argv.append(f"--node-ip-address={node_ip}")
    if num_cpus is not None:
        argv.append(f"--num-cpus={num_cpus}")
    if object_store_mb:
        argv.append(f"--object-store-memory={object_store_mb * 1024 * 1024}")
    return argv


def node_processes(registry_file: Path) -> list:
    """Every process of this node: `ray start` and each daemon it started inherit NODE_ENV (this node's own
    registry path), including the daemons Ray moves into process groups of their own."""
    import psutil  # lazy: psutil, ~20 ms that every `edgevlm` start would pay

    mine = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(NODE_ENV) == str(registry_file):
                mine.append(proc)
        except (psutil.Error, OSError):
            continue  # gone, or another user's
    return mine


def stop_node(registry_file: Path, grace_s: float = 15.0, deadline_s: float = 60.0) -> None:
    """End every process of this node: SIGTERM (Ray's daemons shut down on it), then SIGKILL whatever is left
    after GRACE_S, and again for any started meanwhile (a worker being spawned), until none is found. Each
    process is waited for until it is gone: an exiting process has released its memory (its environment reads
    as empty) before its sockets close, so returning on "no process found" alone can leave a port open."""
    import psutil  # lazy: psutil, ~20 ms that every `edgevlm` start would pay

    seen = node_processes(registry_file)
    for proc in seen:
        _signal(proc, terminate=True)
    _, left = psutil.wait_procs(seen, timeout=grace_s)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        late = [p for p in node_processes(registry_file) if p not in seen]
        seen += late
        left += late
        if not left:
            break
        for proc in left:
            _signal(proc, terminate=False)
        _, left = psutil.wait_procs(left, timeout=5)


def _signal(proc, *, terminate: bool) -> None:
    import psutil  # lazy: psutil, ~20 ms that every `edgevlm` start would pay

    try:
        proc.terminate() if terminate else proc.kill()
    except psutil.Error:
        pass
