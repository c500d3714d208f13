"""One interface to a device: shell with a real exit code, push (skipped when the content hash matches), pull,
file hashes. Implementations: local.py, adb.py, ssh.py.

Commands are POSIX shell strings run by the device's /bin/sh (mksh on Android, dash/bash elsewhere); every path
and value this module puts into them goes through shlex.quote, so any file name is safe. Remote shells report
the exit code after a unique marker on stdout (remote.py), which works on every adbd and every ssh server.
"""
from __future__ import annotations

import codecs
import os
import shlex
import signal
import stat
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edgevlm.errors import DeviceError
from edgevlm.files import atomic_output
from edgevlm.hashing import sha256_file
from edgevlm.interrupt import kill_group


@dataclass(frozen=True)
class ShellResult:
    command: str
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def signal(self) -> int | None:
        """The signal that ended the process, from the shell convention 128+N."""
        return self.code - 128 if 128 < self.code < 128 + 65 else None

    def describe(self) -> str:
        if self.signal is not None:
            try:
                name = signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"killed by {name} (exit {self.code})"
        return f"exit {self.code}"


@dataclass(frozen=True)
class PushStats:
    pushed: int
    skipped: int
    bytes_pushed: int


def shell_line(command: str, *, env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    """`command` prefixed with `cd CWD &&` and `export K=V;` — values quoted, names checked."""
    parts = []
    for key, value in (env or {}).items():
        if not key.replace("_", "a").isalnum() or key[0].isdigit():
            raise DeviceError(f"invalid environment variable name {key!r}")
        parts.append(f"export {key}={shlex.quote(value)};")
    if cwd:
        parts.append(f"cd {shlex.quote(cwd)} &&")
    return " ".join([*parts, command])


class Transport(ABC):
    """A device reachable for commands and files. `name` is how messages refer to it."""

    kind = "abstract"

    def __init__(self, name: str, *, default_timeout: float = 600.0):
        self.name = name
        self.default_timeout = default_timeout

    # -- what each implementation provides -------------------------------------------------------------
    @abstractmethod
    def _run(self, line: str, timeout: float) -> ShellResult:
        """Run one shell line; the result's code is the command's own exit status."""

    @abstractmethod
    def _push_file(self, local: Path, remote: str, timeout: float) -> None:
        """Copy one file; the remote parent exists. Raise DeviceError on any failure."""

    @abstractmethod
    def _pull_file(self, remote: str, local: Path, timeout: float) -> None:
        """Copy one remote file to `local` (a temp name the caller renames)."""

    # -- shared behaviour ------------------------------------------------------------------------------
    def shell(self, command: str, *, env: dict[str, str] | None = None, cwd: str | None = None,
              timeout: float | None = None, check: bool = False) -> ShellResult:
        result = self._run(shell_line(command, env=env, cwd=cwd), timeout or self.default_timeout)
        if check and result.code != 0:
            raise DeviceError(f"{self.name}: `{command[:200]}` failed ({result.describe()}): "
                              f"{(result.stderr or result.stdout).strip()[-600:]}")
        return result

    def stream(self, command: str, on_output, *, env: dict[str, str] | None = None, cwd: str | None = None,
               timeout: float | None = None) -> ShellResult:
        """Like shell(), but stdout goes to on_output(text) as it arrives (the result still holds all of it)."""
        return self._stream(shell_line(command, env=env, cwd=cwd), on_output, timeout or self.default_timeout)

    def _stream(self, line: str, on_output, timeout: float) -> ShellResult:
        result = self._run(line, timeout)                  # a transport that cannot stream delivers at the end
        on_output(result.stdout)
        return result

    def resolve(self, path: str) -> str:
        """A remote path with a leading ~/ replaced by the remote home folder."""
        if path == "~" or path.startswith("~/"):
            home = self.shell('printf %s "$HOME"', check=True).stdout.strip()
            return home + path[1:]
        return path

    def file_hashes(self, remote_paths: list[str]) -> dict[str, str | None]:
        """sha256 of each remote file, None where it does not exist. One round trip, any file names."""
        if not remote_paths:
            return {}
        quoted = " ".join(shlex.quote(p) for p in remote_paths)
        line = (f'for f in {quoted}; do if [ -f "$f" ]; then sha256sum < "$f" | cut -c1-64; '
                f'else echo missing; fi; done')
        out = self.shell(line, check=True).stdout.split()
        if len(out) != len(remote_paths):
            raise DeviceError(f"{self.name}: could not hash files (sha256sum missing?): {out[:4]}")
        return {p: (None if h == "missing" else h) for p, h in zip(remote_paths, out)}

    def push(self, local: Path, remote: str, *, timeout: float | None = None) -> bool:
        """Copy a file unless the remote copy has the same sha256. True when bytes were sent."""
        return self.push_files([(Path(local), remote)], timeout=timeout).pushed == 1

    def push_files(self, pairs: list[tuple[Path, str]], *, timeout: float | None = None,
                   known_hashes: dict[str, str | None] | None = None, local_sha256=sha256_file) -> PushStats:
        """Push each file whose remote sha256 differs. `known_hashes`: remote hashes read moments ago (the
        preflight's), so they are not computed on the device again; paths missing from it are hashed.
        `local_sha256`: how a local file's hash is had (a session's cache: each file read at most once)."""
        for local, _ in pairs:
            if not local.is_file():
                raise DeviceError(f"cannot push {local}: not a file")
        known = known_hashes or {}
        unknown = [r for _, r in pairs if r not in known]
        remote_hashes = {**known, **(self.file_hashes(unknown) if unknown else {})}
        todo = [(loc, rem) for loc, rem in pairs if remote_hashes[rem] != local_sha256(loc)]
        parents = sorted({str(PurePosixPath(rem).parent) for _, rem in todo})
        if parents:
            self.shell("mkdir -p " + " ".join(shlex.quote(p) for p in parents), check=True)
        sent = 0
        for loc, rem in todo:
            self._push_file(loc, rem, timeout or self.default_timeout)
            sent += loc.stat().st_size
        executables = [rem for loc, rem in todo if os.stat(loc).st_mode & stat.S_IXUSR]
        if executables:
            self.shell("chmod 755 " + " ".join(shlex.quote(r) for r in executables), check=True)
        return PushStats(len(todo), len(pairs) - len(todo), sent)

    def push_tree(self, local_dir: Path, remote_dir: str, *, timeout: float | None = None) -> PushStats:
        """Every file under local_dir to the same relative path under remote_dir (hash-skipped)."""
        files = sorted(p for p in Path(local_dir).rglob("*") if p.is_file())
        pairs = [(p, str(PurePosixPath(remote_dir) / p.relative_to(local_dir).as_posix())) for p in files]
        return self.push_files(pairs, timeout=timeout)

    def pull(self, remote: str, local: Path, *, timeout: float | None = None) -> Path:
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(local) as tmp:
            self._pull_file(remote, tmp, timeout or self.default_timeout)
        return local

    def read_text(self, remote: str) -> str | None:
        """A small remote text file, or None when it cannot be read."""
        result = self.shell(f"cat {shlex.quote(remote)} 2>/dev/null")
        return result.stdout if result.code == 0 else None

    def describe(self) -> str:
        return f"{self.kind}:{self.name}"


def pump(argv: list[str], on_output, timeout: float, *, holdback: int = 0, what: str = "",
         own_group: bool = False) -> tuple[int, str, str, float]:
    """Run argv, handing stdout to on_output as it arrives except its last `holdback` characters (a trailer the
    caller strips); (exit code, stdout, stderr, seconds). The process (its whole group with `own_group`) is
    killed on timeout or KeyboardInterrupt."""

    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=own_group)
    stop = kill_group if own_group else (lambda p: (p.kill(), p.wait()))
    out: list[str] = []
    err: list[bytes] = []
    emitted = [0]

    def read_out() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while chunk := proc.stdout.read1(65536):
            out.append(decoder.decode(chunk))
            text = "".join(out)
            upto = max(emitted[0], len(text) - holdback)
            if upto > emitted[0]:
                on_output(text[emitted[0]:upto])
                emitted[0] = upto
        out.append(decoder.decode(b"", final=True))

    readers = [threading.Thread(target=read_out, daemon=True),
               threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)]
    for reader in readers:
        reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise DeviceError(f"{what} timed out after {timeout:g} s",
                          hint="raise the timeout, or check whether the device is stuck") from None
    except BaseException:
        stop(proc)
        raise
    for reader in readers:
        reader.join()
    return code, "".join(out), b"".join(err).decode(errors="replace"), time.monotonic() - started
