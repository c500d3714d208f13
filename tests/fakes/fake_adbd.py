"""A fake Android device that speaks the adb wire protocol on 127.0.0.1, for the REAL `adb` client.

`adb connect 127.0.0.1:PORT` makes the adb server dial in here, exactly as it does for a phone with adb over
TCP. Written from the protocol description in AOSP's adb docs (protocol.txt, SYNC.TXT, shell_v2):

* transport: 24-byte little-endian headers (command, arg0, arg1, length, checksum, magic = ~command) + payload;
  CNXN handshake (no AUTH: like a device with auth disabled), OPEN/OKAY/WRTE/CLSE streams with one WRTE in
  flight per stream (the sender waits for the peer's OKAY).
* services: ``shell:CMD`` (v1: merged output, no exit code), ``shell,v2,...:CMD`` (packets: id byte + u32 length;
  stdin 0, stdout 1, stderr 2, exit 3, close-stdin 4, window-size 5), ``sync:`` (STAT, LIST, SEND, RECV, QUIT),
  ``tcp:PORT`` (a connection to the device's loopback, relayed both ways: what `adb forward` opens).

The phone itself (file system, getprop, /proc/cpuinfo, qemu for arm64 binaries) is android_sandbox.py.
Fault knobs (see FaultPlan): drop the connection mid-push, a full disk, a process killed by a signal.
"""
from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.fakes.android_sandbox import FEATURES as CPU_FEATURES
from tests.fakes.android_sandbox import PROPS, build_sandbox, compile_shim, set_cpus, spawn

A_VERSION = 0x01000001          # skip-checksum version; adb 29 accepts it and still tolerates a checksum
MAX_PAYLOAD = 256 * 1024
SYNC_DATA_MAX = 64 * 1024
FEATURES = "shell_v2,cmd,fixed_push_mkdir"


def _cmd(name: bytes) -> int:
    return struct.unpack("<I", name)[0]


CNXN, OPEN, OKAY, WRTE, CLSE, AUTH = (_cmd(n) for n in (b"CNXN", b"OPEN", b"OKAY", b"WRTE", b"CLSE", b"AUTH"))


def pack(command: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    return struct.pack("<6I", command, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, command ^ 0xFFFFFFFF) + data


@dataclass
class FaultPlan:
    """One-shot faults the tests arm. Each fires once and disarms itself."""
    drop_push_after_bytes: int | None = None    # close the socket once a SEND has received this many bytes
    free_bytes: int | None = None               # /data has this much room; a SEND beyond it fails ENOSPC
    kill_pattern: str | None = None             # kill the process whose command line contains this ...
    kill_nth: int = 1                           # ... in the nth shell command that mentions it ...
    kill_signal: int = signal.SIGKILL
    kill_after_s: float = 0.3                   # ... this long after it appears
    fired: list[str] = field(default_factory=list)
    kill_seen: int = 0


class Stream:
    """One adb stream: our id, the host's id, an inbox of WRTE payloads, and ack-paced writes."""

    def __init__(self, conn: "Connection", local_id: int, remote_id: int):
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        self.acked = threading.Event()
        self.write_lock = threading.Lock()
        self.closed = False
        self._buffer = b""

    def write(self, data: bytes) -> None:
        with self.write_lock:
            for start in range(0, len(data), self.conn.max_payload):
                if self.closed or not self.conn.alive:
                    raise ConnectionError("stream closed")
                self.acked.clear()
                self.conn.send(WRTE, self.local_id, self.remote_id, data[start:start + self.conn.max_payload])
                while not self.acked.wait(0.5):
                    if self.closed or not self.conn.alive:
                        raise ConnectionError("stream closed while waiting for OKAY")

    def read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.inbox.get()
            if chunk is None:
                raise ConnectionError("peer closed the stream")
            self._buffer += chunk
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.conn.send(CLSE, self.local_id, self.remote_id)
            self.conn.streams.pop(self.local_id, None)


class Connection:
    """One TCP connection from the adb server: reads packets, dispatches to streams and service threads."""

    def __init__(self, device: "FakeAdbDevice", sock: socket.socket):
        self.device, self.sock = device, sock
        self.alive = True
        self.max_payload = MAX_PAYLOAD
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.send_lock = threading.Lock()

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        try:
            with self.send_lock:
                self.sock.sendall(pack(command, arg0, arg1, data))
        except OSError:
            self.drop()

    def drop(self) -> None:
        """Vanish like an unplugged cable: no CLSE, the socket just goes."""
        if self.alive:
            self.alive = False
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            for stream in list(self.streams.values()):
                stream.inbox.put(None)

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("adb server closed the connection")
            data += chunk
        return data

    def serve(self) -> None:
        try:
            while self.alive:
                command, arg0, arg1, length, _check, magic = struct.unpack("<6I", self._recv_exact(24))
                if magic != command ^ 0xFFFFFFFF:
                    raise ConnectionError("bad packet magic")
                self._dispatch(command, arg0, arg1, self._recv_exact(length) if length else b"")
        except (ConnectionError, OSError):
            pass
        finally:
            self.drop()

    def _dispatch(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == CNXN:
            self.max_payload = min(arg1 or MAX_PAYLOAD, MAX_PAYLOAD)
            self.send(CNXN, A_VERSION, MAX_PAYLOAD, self.device.banner())
        elif command == OPEN:
            self._open(arg0, data.rstrip(b"\0").decode(errors="replace"))
        elif command == WRTE and arg1 in self.streams:
            self.streams[arg1].inbox.put(data)
            self.send(OKAY, arg1, arg0)
        elif command == OKAY and arg1 in self.streams:
            self.streams[arg1].acked.set()
        elif command == CLSE and arg1 in self.streams:
            stream = self.streams.pop(arg1)
            stream.closed = True
            stream.inbox.put(None)

    def _open(self, remote_id: int, service: str) -> None:
        handler = self.device.service_for(service)
        if handler is None:
            self.send(CLSE, 0, remote_id)
            return
        local_id, self.next_id = self.next_id, self.next_id + 1
        stream = Stream(self, local_id, remote_id)
        self.streams[local_id] = stream
        self.send(OKAY, local_id, remote_id)
        threading.Thread(target=self._run_service, args=(handler, stream), daemon=True).start()

    @staticmethod
    def _run_service(handler, stream: Stream) -> None:
        try:
            handler(stream)
        except (ConnectionError, OSError):
            pass
        finally:
            if stream.conn.alive:
                stream.close()


class FakeAdbDevice:
    """The phone: a sandbox root, a listening socket, services, fault knobs. Use as a context manager."""

    def __init__(self, workdir: Path, *, cpu: str = "cortex-a76"):
        self.root = workdir / "root"
        self.cpu = cpu
        self.faults = FaultPlan()
        workdir.mkdir(parents=True, exist_ok=True)
        build_sandbox(self.root, compile_shim(workdir))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[Connection] = []
        self.commands: list[str] = []          # every shell command received, for assertions
        self.forwarded: list[int] = []         # device ports opened through `tcp:` streams (adb forward)

    # -- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> "FakeAdbDevice":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.drop()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            conn = Connection(self, sock)
            self.connections.append(conn)
            threading.Thread(target=conn.serve, daemon=True).start()

    def banner(self) -> bytes:
        props = ";".join(f"ro.product.{k}={PROPS['ro.product.' + k]}" for k in ("name", "model", "device"))
        return f"device::{props};features={FEATURES}".encode()

    def set_temperature(self, zone: int, celsius: float) -> None:
        (self.root / f"sys/class/thermal/thermal_zone{zone}/temp").write_text(f"{int(celsius * 1000)}\n")

    def set_cpus(self, online: tuple[int, ...] = tuple(range(8)), features: str = CPU_FEATURES) -> None:
        """Cores offline (e.g. (0, 1, 2, 3): the big cores parked) and/or other CPU features (e.g. no asimddp)."""
        set_cpus(self.root, online, features)

    def set_free_space(self, free_bytes: int) -> None:
        """What `df` reports for /data and what a push may use (the disk-full fault)."""
        (self.root / "system/fake-df-free-kb").write_text(f"{free_bytes // 1024}\n")
        self.faults.free_bytes = free_bytes

    def set_memory(self, available_kb: int) -> None:
        (self.root / "system/fake-proc/meminfo").write_text(
            f"MemTotal:        7707812 kB\nMemFree:          {available_kb // 2} kB\nMemAvailable:    {available_kb} kB\n")

    def device_path(self, path: str) -> Path:
        """A device path inside the sandbox; refuses to leave it."""
        full = (self.root / path.lstrip("/")).resolve()
        if full != self.root.resolve() and self.root.resolve() not in full.parents:
            raise PermissionError(path)
        return full

    # -- services --------------------------------------------------------------------------------------
    def service_for(self, service: str):
        if service == "sync:":
            return self._sync
        if service.startswith("shell,v2"):
            return lambda s: self._shell_v2(s, service.split(":", 1)[1])
        if service.startswith("shell:"):
            return lambda s: self._shell_v1(s, service[len("shell:"):])
        if service.startswith("tcp:"):
            return self._tcp_service(service[len("tcp:"):])
        return None

    def _tcp_service(self, spec: str):
        """``tcp:PORT`` (what `adb forward tcp:L tcp:PORT` opens per connection): adbd connects to PORT on the
        device's loopback and relays bytes both ways. The phone's processes share the host's network (the sandbox
        is a mount namespace only), so its loopback is 127.0.0.1. Refused like adbd: no connection, no stream."""
        host, _, port = spec.rpartition(":")
        if not port.isdigit() or host not in ("", "localhost", "127.0.0.1"):
            return None
        try:
            sock = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        except OSError:
            return None
        sock.settimeout(None)
        self.forwarded.append(int(port))
        return lambda stream: _relay(stream, sock)

    def _shell_v1(self, stream: Stream, command: str) -> None:
        self.commands.append(command)
        proc = spawn(self.root, command or "exit 0", cpu=self.cpu, stdin=subprocess.DEVNULL)
        self._maybe_arm_kill(proc, command)
        out, err = proc.communicate()
        stream.write(out + err)

    def _shell_v2(self, stream: Stream, command: str) -> None:
        self.commands.append(command)
        proc = spawn(self.root, command or "exit 0", cpu=self.cpu, stdin=subprocess.PIPE)
        self._maybe_arm_kill(proc, command)
        pumps = [threading.Thread(target=_pump, args=(pipe, ident, stream), daemon=True)
                 for pipe, ident in ((proc.stdout, 1), (proc.stderr, 2))]
        for pump in pumps:
            pump.start()
        threading.Thread(target=_feed_stdin, args=(stream, proc), daemon=True).start()
        code = proc.wait()
        for pump in pumps:
            pump.join()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):   # the pumps read to EOF but never close: 2 fds a shell
            if pipe is not None:
                pipe.close()
        if code < 0:                       # a signal: report it the way adbd does, 128 + signal
            code = 128 - code
        stream.write(_packet(3, bytes([code & 0xFF])))

    def _maybe_arm_kill(self, proc, command: str) -> None:
        pattern = self.faults.kill_pattern
        if not pattern or pattern not in command:
            return
        self.faults.kill_seen += 1
        if self.faults.kill_seen == self.faults.kill_nth:
            threading.Thread(target=self._killer, args=(proc, pattern), daemon=True).start()

    def _killer(self, proc, pattern: str) -> None:
        """Kill the pattern-matching process (not the shell around it), like the low-memory killer would."""
        deadline = time.monotonic() + 120
        seen_at = None
        while proc.poll() is None and time.monotonic() < deadline:
            victims = _matching_descendants(proc.pid, pattern)
            if victims and seen_at is None:
                seen_at = time.monotonic()          # let it run a little before killing it
            if victims and time.monotonic() - seen_at >= self.faults.kill_after_s:
                self.faults.kill_pattern = None
                self.faults.fired.append(f"kill {pattern}")
                for victim in victims:
                    try:
                        victim.send_signal(self.faults.kill_signal)
                    except psutil.Error:
                        pass
                return
            time.sleep(0.02)

    def _sync(self, stream: Stream) -> None:
        while True:
            ident, length = struct.unpack("<4sI", stream.read_exact(8))
            if ident == b"QUIT":
                return
            path = stream.read_exact(length).decode(errors="surrogateescape")
            handler = {b"STAT": self._sync_stat, b"LIST": self._sync_list, b"SEND": self._sync_send,
                       b"RECV": self._sync_recv}.get(ident)
            if handler is None:
                _sync_fail(stream, f"unknown sync request {ident!r}")
                return
            handler(stream, path)

    def _sync_stat(self, stream: Stream, path: str) -> None:
        try:
            st = self.device_path(path).stat()
            stream.write(b"STAT" + struct.pack("<3I", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime)))
        except OSError:
            stream.write(b"STAT" + struct.pack("<3I", 0, 0, 0))

    def _sync_list(self, stream: Stream, path: str) -> None:
        folder = self.device_path(path)
        entries = sorted(os.scandir(folder), key=lambda e: e.name) if folder.is_dir() else []
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            name = entry.name.encode(errors="surrogateescape")
            stream.write(b"DENT" + struct.pack("<4I", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime),
                                               len(name)) + name)
        stream.write(b"DONE" + struct.pack("<4I", 0, 0, 0, 0))

    def _sync_send(self, stream: Stream, spec: str) -> None:
        path, _, mode = spec.rpartition(",")
        target = self.device_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".adb-partial")
        received, error = 0, None
        with open(partial, "wb") as fh:
            while True:
                ident, arg = struct.unpack("<4sI", stream.read_exact(8))
                if ident == b"DONE":
                    mtime = arg
                    break
                if ident != b"DATA":
                    raise ConnectionError(f"unexpected {ident!r} in SEND")
                chunk = stream.read_exact(arg)
                received += len(chunk)
                drop_at = self.faults.drop_push_after_bytes
                if drop_at is not None and received >= drop_at:
                    self.faults.drop_push_after_bytes = None
                    self.faults.fired.append(f"drop after {received} bytes")
                    stream.conn.drop()
                    raise ConnectionError("fault: connection dropped mid-push")
                if error is None and not self._has_room(len(chunk)):
                    error = "No space left on device"
                    self.faults.fired.append("disk full")
                if error is None:
                    fh.write(chunk)
        if error is not None:
            partial.unlink()
            _sync_fail(stream, error)
            return
        os.chmod(partial, int(mode) & 0o7777 if mode.isdigit() else 0o644)
        os.replace(partial, target)
        os.utime(target, (mtime, mtime))
        stream.write(b"OKAY" + struct.pack("<I", 0))

    def _has_room(self, incoming: int) -> bool:
        free = self.faults.free_bytes
        if free is None:
            return True
        used = sum(p.stat().st_size for p in (self.root / "data").rglob("*") if p.is_file())
        return used + incoming <= free

    def _sync_recv(self, stream: Stream, path: str) -> None:
        try:
            data = self.device_path(path).read_bytes()
        except OSError as exc:
            _sync_fail(stream, exc.strerror or str(exc))
            return
        for start in range(0, len(data), SYNC_DATA_MAX):
            chunk = data[start:start + SYNC_DATA_MAX]
            stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
        stream.write(b"DONE" + struct.pack("<I", 0))


_WRAPPERS = {"sh", "dash", "bash", "unshare", "chroot", "env", "taskset"}


def _matching_descendants(pid: int, pattern: str) -> list[psutil.Process]:
    """Descendants whose command line has the pattern, excluding the shells and wrappers that carry it."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        try:
            if child.name() not in _WRAPPERS and pattern in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue                      # exec'ing or gone: look again next round
    return found


def _packet(ident: int, data: bytes) -> bytes:
    return struct.pack("<BI", ident, len(data)) + data


def _pump(pipe, ident: int, stream: Stream) -> None:
    try:
        while chunk := pipe.read1(65536):
            stream.write(_packet(ident, chunk))
    except (ConnectionError, OSError):
        pass


def _feed_stdin(stream: Stream, proc) -> None:
    """shell v2 packets from the host: stdin data, close-stdin; window-size changes are ignored."""
    try:
        while True:
            ident, length = struct.unpack("<BI", stream.read_exact(5))
            data = stream.read_exact(length)
            if ident == 0 and proc.stdin:
                proc.stdin.write(data)
                proc.stdin.flush()
            elif ident == 4 and proc.stdin:
                proc.stdin.close()
    except (ConnectionError, OSError, ValueError):
        pass
    finally:
        if proc.poll() is None and not stream.conn.alive:
            os.killpg(proc.pid, signal.SIGHUP)   # the host went away: adbd hangs up the shell


def _relay(stream: Stream, sock: socket.socket) -> None:
    """Bytes between an adb stream and a device socket until either side closes; then both close (the caller
    closes the stream), so a client that goes away on the host ends the device-side connection at once."""
    def host_to_device() -> None:
        try:
            while (chunk := stream.inbox.get()) is not None:
                sock.sendall(chunk)
        except OSError:
            pass
        finally:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    threading.Thread(target=host_to_device, daemon=True).start()
    try:
        while chunk := sock.recv(MAX_PAYLOAD):
            stream.write(chunk)
    except OSError:
        pass
    finally:
        sock.close()
        stream.inbox.put(None)            # ends host_to_device when the device side closed first


def _sync_fail(stream: Stream, message: str) -> None:
    data = message.encode()
    stream.write(b"FAIL" + struct.pack("<I", len(data)) + data)

