"""The local transport: this machine, through /bin/sh; push is a copy (skipped when the hash matches)."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from edgevlm.device.transport import ShellResult, Transport, pump
from edgevlm.interrupt import kill_group
from edgevlm.errors import DeviceError


class LocalTransport(Transport):
    kind = "local"

    def __init__(self, name: str = "host", *, default_timeout: float = 600.0):
        super().__init__(name, default_timeout=default_timeout)

    def _run(self, line: str, timeout: float) -> ShellResult:
        # its own process group: a timeout or an interrupt ends the shell AND what it started (a `cd X && sh -c`
        # line has a shell between us and the binary, which killing the shell alone would orphan)
        started = time.monotonic()
        proc = subprocess.Popen(["/bin/sh", "-c", line], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise DeviceError(f"{self.name}: `{line[:120]}` timed out after {timeout:g} s") from None
        except BaseException:
            kill_group(proc)
            raise
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode  # same convention as a shell
        return ShellResult(line, code, out.decode(errors="replace"), err.decode(errors="replace"),
                           time.monotonic() - started)

    def _stream(self, line: str, on_output, timeout: float) -> ShellResult:
        code, out, err, seconds = pump(["/bin/sh", "-c", line], on_output, timeout,
                                       what=f"{self.name}: `{line[:120]}`", own_group=True)
        return ShellResult(line, code if code >= 0 else 128 - code, out, err, seconds)

    def _push_file(self, local: Path, remote: str, timeout: float) -> None:
        self._copy(Path(local), Path(remote))

    def _pull_file(self, remote: str, local: Path, timeout: float) -> None:
        self._copy(Path(remote), Path(local))

    def _copy(self, src: Path, dst: Path) -> None:
        if src.resolve() == dst.resolve():
            return
        tmp = dst.with_name(dst.name + ".edgevlm-partial")
        try:
            shutil.copy2(src, tmp)
            tmp.replace(dst)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DeviceError(f"{self.name}: copying {src} to {dst} failed: {exc.strerror}") from None
