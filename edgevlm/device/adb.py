"""The adb transport: the real `adb` client through subprocess.

`-s SERIAL` picks the device; `-P PORT` (or $ANDROID_ADB_SERVER_PORT) the adb server. Files go through
`adb push`/`adb pull` (the sync service), which never involves a shell, so any file name is safe there too.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from edgevlm.device.remote import RemoteShellTransport
from edgevlm.errors import DeviceError


def adb_binary() -> str:
    path = shutil.which("adb")
    if path is None:
        raise DeviceError("`adb` is not installed", hint="run `make setup` (Debian package `adb`)")
    return path


class AdbTransport(RemoteShellTransport):
    kind = "adb"

    def __init__(self, serial: str, *, server_port: int | None = None, default_timeout: float = 600.0):
        super().__init__(serial or "adb", default_timeout=default_timeout)
        self.serial = serial
        self.server_port = server_port

    def _adb(self, *args: str) -> list[str]:
        argv = [adb_binary()]
        if self.server_port:
            argv += ["-P", str(self.server_port)]
        if self.serial:
            argv += ["-s", self.serial]
        return argv + list(args)

    def _client(self, line: str) -> list[str]:
        # adb joins its arguments with spaces and hands the result to the device shell: one argument, verbatim.
        return self._adb("shell", line)

    def forward_argv(self, *args: str) -> list[str]:
        """argv of `adb [-P PORT] [-s SERIAL] forward ARGS...` (edgevlm.device.forward)."""
        return self._adb("forward", *args)

    def _push_file(self, local: Path, remote: str, timeout: float) -> None:
        self._checked_copy(self._adb("push", str(Path(local).resolve()), remote), f"pushing {local.name}", timeout)

    def _pull_file(self, remote: str, local: Path, timeout: float) -> None:
        self._checked_copy(self._adb("pull", remote, str(Path(local).resolve())), f"pulling {remote}", timeout)


def list_serials(server_port: int | None = None) -> list[tuple[str, str, dict[str, str]]]:
    """(serial, state, {product, model, device, transport_id}) from `adb devices -l`."""

    argv = [adb_binary()] + (["-P", str(server_port)] if server_port else []) + ["devices", "-l"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except subprocess.TimeoutExpired:
        raise DeviceError("`adb devices -l` timed out (adb server stuck?)") from None
    devices = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 2 or line.startswith(("List of devices", "*")):
            continue
        attrs = dict(f.split(":", 1) for f in fields[2:] if ":" in f)
        devices.append((fields[0], fields[1], attrs))
    return devices
