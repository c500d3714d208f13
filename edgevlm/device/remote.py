"""Shared by the adb and ssh transports: run a local client (`adb`, `ssh`), recover the remote exit code.

The remote line becomes ``( LINE ); printf '\\n<marker>%d\\n' $?`` with a marker unique to the call. The code
after the marker is the command's own status (a signal shows as 128+N). No marker on stdout means the client
or the connection failed before the command finished: that is a DeviceError, never a fake exit code.
"""
from __future__ import annotations

import re
import subprocess
import time
import uuid
from abc import abstractmethod

from edgevlm.device.transport import ShellResult, Transport, pump
from edgevlm.errors import DeviceError

# Client messages that mean the link to the device is gone, as opposed to a command failing on it.
UNREACHABLE = re.compile(r"device '.*' not found|no devices/emulators|connection refused|connection timed out|"
                         r"could not resolve|no route to host|failed to connect|permission denied \(publickey", re.I)
LINK_LOST = re.compile(r"device offline|connection reset|protocol fault|closed|broken pipe|lost connection|"
                       r"couldn't (?:read from|write to) device", re.I)
NO_SPACE = re.compile(r"no space left|ENOSPC|disk quota", re.I)


class RemoteShellTransport(Transport):
    @abstractmethod
    def _client(self, line: str) -> list[str]:
        """argv of the local client that runs `line` on the device."""

    def _run(self, line: str, timeout: float) -> ShellResult:
        marker = f"__edgevlm_rc_{uuid.uuid4().hex}__"
        shown = line.strip().splitlines()[0][:120] if line.strip() else line
        wrapped = f"( {line} ); printf '\\n{marker}%d\\n' $?"
        proc = self._call(self._client(wrapped), timeout, what=f"`{shown}`")
        match = re.search(rf"\n{marker}(\d+)\n?$", proc.stdout)
        if match is None:
            raise self.link_error(f"running `{shown}`", proc.stderr or proc.stdout)
        return ShellResult(line, int(match.group(1)), proc.stdout[:match.start()], proc.stderr, proc.seconds)

    def _stream(self, line: str, on_output, timeout: float) -> ShellResult:
        marker = f"__edgevlm_rc_{uuid.uuid4().hex}__"
        shown = line.strip().splitlines()[0][:120] if line.strip() else line
        code, out, err, seconds = pump(self._client(f"( {line} ); printf '\\n{marker}%d\\n' $?"), on_output,
                                       timeout, holdback=len(marker) + 8, what=f"{self.name}: `{shown}`")
        match = re.search(rf"\n{marker}(\d+)\n?$", out)
        if match is None:
            raise self.link_error(f"running `{shown}`", err or out)
        already = max(0, len(out) - (len(marker) + 8))
        if match.start() > already:
            on_output(out[already:match.start()])
        return ShellResult(line, int(match.group(1)), out[:match.start()], err, seconds)

    def _call(self, argv: list[str], timeout: float, *, what: str, stdin=None) -> "_Completed":
        started = time.monotonic()
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=stdin or subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{self.name}: {what} timed out after {timeout:g} s",
                              hint="raise the timeout, or check whether the device is stuck") from None
        except FileNotFoundError:
            raise DeviceError(f"`{argv[0]}` is not installed", hint="run `make setup`") from None
        return _Completed(proc.returncode, proc.stdout.decode(errors="replace"),
                          proc.stderr.decode(errors="replace"), time.monotonic() - started)

    def link_error(self, what: str, output: str) -> DeviceError:
        detail = output.strip()[-500:] or "no output"
        if NO_SPACE.search(output):
            return DeviceError(f"{self.name}: no space left on the device while {what}: {detail}",
                               hint="free space on the device (or push a smaller model)")
        if UNREACHABLE.search(output):
            return DeviceError(f"{self.name}: cannot reach the device while {what}: {detail}",
                               hint="is it connected (adb devices) / reachable (ssh host, port, key)?")
        if LINK_LOST.search(output):
            return DeviceError(f"{self.name}: connection to the device lost while {what}: {detail}",
                               hint="check the cable / network and run again; finished work was kept")
        return DeviceError(f"{self.name}: {what} failed: {detail}")

    def _checked_copy(self, argv: list[str], what: str, timeout: float, stdin=None) -> None:
        proc = self._call(argv, timeout, what=what, stdin=stdin)
        if proc.code != 0:
            raise self.link_error(what, proc.stderr + proc.stdout)


class _Completed:
    __slots__ = ("code", "stdout", "stderr", "seconds")

    def __init__(self, code: int, stdout: str, stderr: str, seconds: float):
        self.code, self.stdout, self.stderr, self.seconds = code, stdout, stderr, seconds
