"""``edgevlm lab status``: hosts, their devices, what each device runs, and the matrices still queued.

Read from Ray (living nodes and their ``device:`` / ``profile:…/device:`` resources) and from the lab's
key-value store, where a cell holding a device and a driver running a matrix leave a note (cell.py, run.py).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from edgevlm.lab.rayenv import connect

NAMESPACE = "edgevlm-lab"


@dataclass
class HostStatus:
    address: str
    node_id: str
    alive: bool
    devices: list[tuple[str, str, str]] = field(default_factory=list)   # (serial, profile, what runs / "idle")


@dataclass
class LabStatus:
    hosts: list[HostStatus]
    matrices: list[dict]


def lab_status(address: str) -> LabStatus:
    from ray.experimental import internal_kv  # lazy: ray, lab only

    ray = connect(address)
    busy = {k.decode().split("/", 1)[1]: json.loads(internal_kv._internal_kv_get(k, namespace=NAMESPACE) or b"{}")
            for k in internal_kv._internal_kv_list("busy/", namespace=NAMESPACE)}
    hosts = []
    for node in ray.nodes():
        host = HostStatus(node["NodeManagerAddress"], node["NodeID"], bool(node["Alive"]))
        for name in sorted(node.get("Resources", {})):
            if name.startswith("profile:") and "/device:" in name:
                profile, serial = name[len("profile:"):].split("/device:", 1)
                what = busy.get(serial)
                note = f"{what['cell']} ({what['matrix']}, {time.time() - what['since']:.0f} s)" if what else "idle"
                host.devices.append((serial, profile, note))
        hosts.append(host)
    matrices = [dict(json.loads(internal_kv._internal_kv_get(k, namespace=NAMESPACE) or b"{}"),
                     id=k.decode().split("/", 1)[1])
                for k in internal_kv._internal_kv_list("matrix/", namespace=NAMESPACE)]
    return LabStatus(hosts, matrices)
