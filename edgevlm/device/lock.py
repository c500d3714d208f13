"""One bench (or run, or server) per device at a time: the device lock.

Two benches on one device mix their samples (each heats and loads the other's cores), so every command that
runs on a device holds this lock for the whole session: bench, `run --device`, `serve`, the lab's cells.

- A local device (this machine): a host-side ``flock`` on a file under $EDGEVLM_LOCK_DIR (default
  /tmp/edgevlm-locks). The kernel drops it when its owner dies, so a dead owner never blocks anyone.
- An adb or ssh device: an atomic ``mkdir`` ON the device (the lock must hold whichever machine the bench runs
  from: two lab hosts, or a laptop and CI, may reach the same Jetson). The folder's ``owner`` file names the
  owner's host and pid; the owner touches it every HEARTBEAT_S. A lock is stale, and broken, when its owner ran
  on this machine and that process is gone, or when its owner (on another machine) has not touched it for
  STALE_S.

The owner text names the command (``edgevlm bench``), never its arguments: they may hold a store password.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from edgevlm.device.transport import Transport
from edgevlm.errors import DeviceBusy, DeviceError

HEARTBEAT_S = 30.0
STALE_S = 120.0          # four missed heartbeats: the owner on another machine is gone
POLL_S = 1.0
# Where the lock lives on a remote device: one place per device, whatever the profile's workdir.
REMOTE_LOCK = {"adb": "/data/local/tmp/.edgevlm-lock", "ssh": "/tmp/.edgevlm-lock"}


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: str             # the pid's start time (/proc/PID/stat field 22): a recycled pid is not the owner
    since: float
    command: str

    def text(self) -> str:
        return json.dumps({"host": self.host, "pid": self.pid, "start": self.start, "since": round(self.since),
                           "command": self.command}, sort_keys=True)

    def describe(self) -> str:
        when = time.strftime("%H:%M:%S", time.localtime(self.since)) if self.since else "?"
        return f"{self.command or 'edgevlm'} (pid {self.pid} on {self.host}, since {when})"

    @staticmethod
    def parse(text: str) -> "Owner | None":
        try:
            data = json.loads(text)
            return Owner(str(data["host"]), int(data["pid"]), str(data.get("start", "")),
                         float(data.get("since", 0)), str(data.get("command", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def is_dead_here(self) -> bool:
        """This owner ran on this machine and its process is gone (or the pid now names another process)."""
        if self.host != socket.gethostname():
            return False
        return _start_time(self.pid) != self.start


def me() -> Owner:
    # the command's name only (`edgevlm bench`): its arguments may hold a store password
    cli = Path(sys.argv[0]).name in ("edgevlm", "__main__.py") and sys.argv[1:2] and sys.argv[1].isalpha()
    command = f"edgevlm {sys.argv[1]}" if cli else "edgevlm (python)"
    return Owner(socket.gethostname(), os.getpid(), _start_time(os.getpid()), time.time(), command)


def _start_time(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]       # field 22; the name (field 2) may hold spaces


class DeviceLock:
    """A held lock; release() (or leaving the `with`) frees it. Re-releasing is harmless."""

    def __init__(self, name: str, release: Callable[[], None]):
        self.name = name
        self._release = release
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._release()

    def __enter__(self) -> "DeviceLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@contextmanager
def device_lock(transport: Transport, *, wait: bool = True, on_wait: Callable[[str], None] | None = None,
                poll_s: float = POLL_S) -> Iterator[DeviceLock]:
    """Hold the device's lock for the `with` body. Busy: wait (saying so once through on_wait) or, with
    wait=False, raise DeviceBusy ("device busy: held by …", exit 3)."""
    lock = acquire(transport, wait=wait, on_wait=on_wait, poll_s=poll_s)
    try:
        yield lock
    finally:
        lock.release()


def acquire(transport: Transport, *, wait: bool = True, on_wait: Callable[[str], None] | None = None,
            poll_s: float = POLL_S) -> DeviceLock:
    said = False
    while True:
        lock, holder = _try(transport)
        if lock is not None:
            return lock
        held_by = holder.describe() if holder else "another edgevlm command"
        if not wait:
            raise DeviceBusy(f"device busy: {transport.name} is held by {held_by}",
                             hint="wait for it to finish, or run again without --no-wait to queue")
        if not said and on_wait is not None:
            on_wait(f"{transport.name} is busy: held by {held_by}; waiting for it (--no-wait to give up)")
            said = True
        time.sleep(poll_s)


def try_device_lock(transport: Transport) -> DeviceLock | None:
    """The lock if it is free now, else None (the lab picks the first free device of several)."""
    return _try(transport)[0]


def _try(transport: Transport) -> tuple[DeviceLock | None, Owner | None]:
    if transport.kind == "local":
        return _try_local(transport)
    if transport.kind in REMOTE_LOCK:
        return _try_remote(transport, remote_lock_path(transport))
    raise DeviceError(f"no device lock for a {transport.kind} transport")


# -- a local device: flock ----------------------------------------------------------------------------------
def lock_dir() -> Path:
    return Path(os.environ.get("EDGEVLM_LOCK_DIR", "/tmp/edgevlm-locks"))


def local_lock_path(transport: Transport) -> Path:
    """One lock for this machine, whichever local profile names it (host, an emulated target...)."""
    return lock_dir() / "local.lock"


def _try_local(transport: Transport) -> tuple[DeviceLock | None, Owner | None]:
    path = local_lock_path(transport)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise DeviceError(f"cannot create the device lock {path}: {exc.strerror}",
                          hint="set EDGEVLM_LOCK_DIR to a writable folder") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = Owner.parse(os.pread(fd, 4096, 0).decode(errors="replace"))
        os.close(fd)
        return None, holder
    os.ftruncate(fd, 0)
    os.pwrite(fd, me().text().encode(), 0)

    def release() -> None:
        os.ftruncate(fd, 0)
        os.close(fd)                  # closing drops the flock
    return DeviceLock(transport.name, release), None


# -- a remote device: mkdir on the device ---------------------------------------------------------------------
def remote_lock_path(transport: Transport) -> str:
    """$EDGEVLM_DEVICE_LOCK (a path on the device; tests point it into their own sandbox), else one fixed place
    per kind of device."""
    return os.environ.get("EDGEVLM_DEVICE_LOCK") or REMOTE_LOCK[transport.kind]


AGE = re.compile(r"^age (-?\d+)$", re.M)


def _try_remote(transport: Transport, path: str) -> tuple[DeviceLock | None, Owner | None]:
    owner = me()
    q, owner_file = shlex.quote(path), shlex.quote(f"{path}/owner")
    # mkdir is atomic on every filesystem: exactly one caller creates the folder
    line = (f"if mkdir {q} 2>/dev/null; then printf %s {shlex.quote(owner.text())} > {owner_file} && echo acquired; "
            f"else echo busy; cat {owner_file} 2>/dev/null; echo; "
            f"echo age $(( $(date +%s) - $(stat -c %Y {owner_file} 2>/dev/null || stat -c %Y {q} 2>/dev/null "
            f"|| date +%s) )); fi")
    out = transport.shell(line, check=True).stdout
    if out.startswith("acquired"):
        return _held_remote(transport, path, owner), None
    holder_text = out.partition("\n")[2].rpartition("\nage ")[0].strip()
    holder = Owner.parse(holder_text)
    age = int(m.group(1)) if (m := AGE.search(out)) else 0
    stale = (holder.is_dead_here() or age > STALE_S) if holder else age > 10   # no owner file: a crash mid-take
    if stale:
        _break(transport, path, holder_text)
        return _try_remote_once(transport, path, owner)
    return None, holder


def _try_remote_once(transport: Transport, path: str, owner: Owner) -> tuple[DeviceLock | None, Owner | None]:
    q = shlex.quote(path)
    line = (f"if mkdir {q} 2>/dev/null; then printf %s {shlex.quote(owner.text())} > {shlex.quote(path + '/owner')}"
            f" && echo acquired; else echo busy; fi")
    if transport.shell(line, check=True).stdout.startswith("acquired"):
        return _held_remote(transport, path, owner), None
    return None, None


def _break(transport: Transport, path: str, seen: str) -> None:
    """Remove a stale lock, only if it still holds what was judged stale (another breaker may have been first and
    a new owner taken it since); rename first, so the folder vanishes at once."""
    q, owner_file = shlex.quote(path), shlex.quote(f"{path}/owner")
    aside = shlex.quote(f"{path}.stale.{os.getpid()}")
    transport.shell(f'if [ "$(cat {owner_file} 2>/dev/null)" = {shlex.quote(seen)} ]; then '
                    f"mv {q} {aside} 2>/dev/null && rm -rf {aside}; fi; true")


def _held_remote(transport: Transport, path: str, owner: Owner) -> DeviceLock:
    owner_file = shlex.quote(f"{path}/owner")
    mine = shlex.quote(owner.text())
    stop = threading.Event()

    def beat() -> None:               # heartbeat: an owner on another machine is judged by the file's age
        while not stop.wait(HEARTBEAT_S):
            try:
                transport.shell(f'[ "$(cat {owner_file} 2>/dev/null)" = {mine} ] && touch {owner_file}', timeout=30)
            except DeviceError:
                continue
    thread = threading.Thread(target=beat, daemon=True, name=f"lock-heartbeat@{transport.name}")
    thread.start()

    def release() -> None:
        stop.set()
        try:
            transport.shell(f'if [ "$(cat {owner_file} 2>/dev/null)" = {mine} ]; then rm -rf {shlex.quote(path)}; '
                            f"fi; true", timeout=30)
        except DeviceError:
            pass                      # unreachable: the lock goes stale by age, and the next taker breaks it
    return DeviceLock(transport.name, release)
