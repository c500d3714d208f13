"""A Transport for a profile, with command-line overrides (--serial, --host). Dispatch by exact transport name."""
from __future__ import annotations

from edgevlm.device.adb import AdbTransport, list_serials
from edgevlm.device.local import LocalTransport
from edgevlm.device.profiles import DeviceProfile
from edgevlm.device.ssh import SshTransport
from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceError


def attached_serials(adb_server_port: int | None = None) -> list[str]:
    """Serials of the adb devices attached and ready (state "device"), for callers above the transports."""
    return [serial for serial, state, _ in list_serials(adb_server_port) if state == "device"]


def transport_for(profile: DeviceProfile, *, serial: str | None = None, host: str | None = None,
                  adb_server_port: int | None = None) -> Transport:
    if profile.transport in ("local", "sim"):   # sim: this host runs qemu (edgevlm.bench.sim)
        return LocalTransport(profile.name)
    if profile.transport == "adb":
        return AdbTransport(serial or profile.adb.serial, server_port=adb_server_port)
    if profile.transport == "ssh":
        user, _, name = (host or profile.ssh.host).rpartition("@")
        return SshTransport(name, port=profile.ssh.port, user=user or profile.ssh.user,
                            identity_file=profile.ssh.identity_file, known_hosts=profile.ssh.known_hosts)
    raise DeviceError(f"{profile.source}: unknown transport {profile.transport!r}")
