"""Everything `edgevlm devices` lists: adb devices, ssh hosts from profiles, and this machine, fingerprinted.

A device that cannot be probed is listed with the reason in `status`, never dropped silently.
"""
from __future__ import annotations

import shutil
from typing import Any

from edgevlm.device.adb import AdbTransport, list_serials
from edgevlm.device.fingerprint import fingerprint
from edgevlm.device.local import LocalTransport
from edgevlm.device.profiles import load_all
from edgevlm.device.ssh import SshTransport
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError


def _probe(name: str, via: str, transport: Transport) -> dict[str, Any]:
    try:
        return {"name": name, "via": via, "status": "ok", **fingerprint(transport)}
    except DeviceError as exc:
        return {"name": name, "via": via, "status": str(exc).splitlines()[0][:160]}


def inventory(*, probe_ssh: bool = True, adb_server_port: int | None = None) -> list[dict[str, Any]]:
    rows = [_probe("host", "local", LocalTransport("host"))]
    if shutil.which("adb"):
        for serial, state, attrs in list_serials(adb_server_port):
            if state != "device":
                rows.append({"name": serial, "via": "adb", "status": state})
                continue
            transport = AdbTransport(serial, server_port=adb_server_port, default_timeout=60)
            rows.append(_probe(attrs.get("model", serial), f"adb {serial}", transport))
    for profile in load_all():
        if profile.transport != "ssh":
            continue
        where = f"ssh {profile.ssh.user + '@' if profile.ssh.user else ''}{profile.ssh.host}:{profile.ssh.port}"
        if not probe_ssh:
            rows.append({"name": profile.name, "via": where, "status": "not probed"})
            continue
        transport = SshTransport(profile.ssh.host, port=profile.ssh.port, user=profile.ssh.user,
                                 identity_file=profile.ssh.identity_file, known_hosts=profile.ssh.known_hosts,
                                 default_timeout=30, connect_timeout=5)
        rows.append(_probe(profile.name, where, transport))
    return rows
