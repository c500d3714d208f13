"""One cell on a worker: take one device of the cell's profile for itself, bench, hand the records back.

Exclusive use is the device lock that bench and `run --device` take too (edgevlm.device.lock, on the device
itself), held for the whole cell: Ray's ``profile:`` / ``device:`` resources decide on which host a cell runs,
the lock decides on which device, so a phone never runs two benches at once whichever matrix (driver) or
command they come from. While a cell holds a device, the lab's
key-value store says so (``edgevlm lab status``). A fault is returned, not raised: the records measured before
it come back marked partial and the driver decides about a retry.
"""
from __future__ import annotations

import json
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.runner import BenchSpec
from edgevlm.bench.session import bench_device
from edgevlm.device.lock import try_device_lock
from edgevlm.device.profiles import load_profile
from edgevlm.errors import EdgeVLMError
from edgevlm.lab.matrix import Cell
from edgevlm.lab.node import LabDevice, this_node, transport_of
from edgevlm.lab.payload import Payload, materialize
from edgevlm.toolchain.bundle import bundle_from_dir

BUSY_PREFIX = "busy/"          # key-value entries: busy/<serial> -> what runs there
LOCK_POLL_S = 1.0            # each try is a round trip to the device


@dataclass
class CellOutcome:
    index: int
    attempt: int
    records: list[dict] = field(default_factory=list)   # RunRecord.to_dict() each
    error: str | None = None
    serial: str = ""
    host: str = ""
    node_id: str = ""
    started: float = 0.0
    ended: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.records)


@dataclass(frozen=True)
class CellJob:
    """Everything a worker needs, picklable: the cell, the bench settings, the payloads, device constraints."""
    matrix_id: str
    cell: Cell
    attempt: int
    reps: int
    warmup: int
    model: Payload
    bundle: Payload
    commit: str
    branch: str
    pin: str | None = None                 # this device only (a retry pinned away from the one that failed)
    avoid: tuple[str, ...] = ()


def run_cell(job: CellJob) -> CellOutcome:
    import ray  # lazy: ray, lab only

    node = this_node()
    outcome = CellOutcome(job.cell.index, job.attempt, host=socket.gethostname(),
                          node_id=ray.get_runtime_context().get_node_id())
    candidates = [d for d in node.healthy() if d.profile == job.cell.profile
                  and (job.pin is None or d.serial == job.pin) and d.serial not in job.avoid]
    if not candidates:
        outcome.error = f"no device of profile {job.cell.profile} on this host (avoiding {list(job.avoid)})"
        return outcome
    with _one_device(candidates, node.adb_port) as (device, lock), _busy(job, device):
        outcome.serial, outcome.started = device.serial, time.time()
        try:
            _bench(ray, job, Held(device, lock, node.adb_port), outcome)
        except EdgeVLMError as exc:
            outcome.error = str(exc).splitlines()[0]
        outcome.ended = time.time()
    return outcome


@dataclass(frozen=True)
class Held:
    """The device a cell took, with its lock and the transport the lock was taken over."""
    device: LabDevice
    lock: object
    adb_port: int | None


def _bench(ray, job: CellJob, held: Held, outcome: CellOutcome) -> None:
    cell, device = job.cell, held.device
    profile = load_profile(cell.profile)
    req = DeviceRequest(cell.profile, materialize(ray, job.model), quant=cell.quant, threads=cell.threads,
                        no_image=not cell.workload.image, transport=transport_of(profile, device, held.adb_port),
                        bundle=bundle_from_dir(materialize(ray, job.bundle)), lock=held.lock)
    spec = BenchSpec(repeat=job.reps, warmup=job.warmup, prompt_tokens=cell.workload.prompt_tokens,
                     gen=cell.workload.gen)
    result = bench_device(req, spec)
    for record in result.records:
        record.commit, record.branch = job.commit, job.branch  # the driver's, not this host's checkout
        record.extra["lab"] = {"matrix": job.matrix_id, "cell": cell.index, "attempt": job.attempt,
                               "serial": device.serial, "host": outcome.host, "workload": cell.workload.name,
                               "repeat": cell.repeat}
        outcome.records.append(record.to_dict())
    outcome.error = result.error


@contextmanager
def _one_device(candidates: list[LabDevice], adb_port: int | None):
    """Hold the first free device's lock (waiting while all are taken); released however the cell ends."""
    while True:
        for device in candidates:
            lock = try_device_lock(transport_of(load_profile(device.profile), device, adb_port))
            if lock is not None:
                with lock:
                    yield device, lock
                return
        time.sleep(LOCK_POLL_S)


@contextmanager
def _busy(job: CellJob, device: LabDevice):
    from ray.experimental import internal_kv  # lazy: ray, lab only

    key = f"{BUSY_PREFIX}{device.serial}"
    what = {"matrix": job.matrix_id, "cell": job.cell.label, "attempt": job.attempt, "since": time.time(),
            "host": socket.gethostname()}
    internal_kv._internal_kv_put(key, json.dumps(what), overwrite=True, namespace="edgevlm-lab")
    try:
        yield
    finally:
        internal_kv._internal_kv_del(key, namespace="edgevlm-lab")
