"""`edgevlm serve --device NAME MODEL_DIR`: edgevlm-serve running on a device, reachable from here.

The same path as the bench up to the push (profile → preflight → deploy, hash-skipped), then:
edgevlm-serve is started on the device as a tracked process (its pid recorded there, so stopping — Ctrl-C,
SIGTERM, a failed start — ends it on the device too), listening on the device's loopback only; its log goes to
a file beside it on the device, read until the "listening" line names the port; that port is forwarded to
127.0.0.1 here (adb forward, ssh -L; nothing for the host) and checked end to end with GET /health.
"""
from __future__ import annotations

import json
import re
import shlex
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from edgevlm.bench.runner import pinned
from edgevlm.bench.options import run_argv
from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.session import Prepared, capped_threads, prepare
from edgevlm.device.tracked import kill_remote, tracked_line
from edgevlm.device.transport import ShellResult
from edgevlm.errors import DeviceError, NativeNotBuilt
from edgevlm.device.forward import Forward, open_forward, require_free

SERVER = "edgevlm-serve"
LISTENING = re.compile(r"listening on http://[^\s/]+:(\d+)")
READY_TIMEOUT_S = 1800.0      # a 1.7B model under qemu on a busy machine loads in minutes, a phone in seconds
POLL_S = 0.25
RUN_FOREVER_S = 7 * 86400.0           # a server runs until stopped; the transports want a finite timeout


@dataclass
class ServeSettings:
    """What the server is started with (device side); port is the one on THIS machine (threads: the request's)."""
    port: int = 8080
    ctx: int = 0                 # 0: the server's default
    extra: tuple[str, ...] = ()  # more edgevlm-serve options, verbatim


@dataclass
class Endpoint:
    """A running server and its forward. stop() ends both (idempotent); wait() blocks while it serves."""
    ready: Prepared
    forward: Forward
    pid_file: str
    log_file: str
    model: str
    _thread: threading.Thread
    _result: list[ShellResult | BaseException] = field(default_factory=list)
    _stopped: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.forward.local_port}/v1"

    @property
    def device(self) -> str:
        return self.ready.profile.name

    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the server process has ended (Ctrl-C reaches the caller between short joins)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._thread.is_alive():
            left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if left <= 0:
                return False
            self._thread.join(left)
        return True

    def exit_description(self) -> str:
        """How the server ended, with the tail of its log on the device."""
        result = self._result[0] if self._result else None
        how = result.describe() if isinstance(result, ShellResult) else f"lost ({result})"
        log = self.ready.transport.read_text(self.log_file) or ""
        return f"{SERVER} on {self.device} ended ({how}): {log.strip()[-600:] or 'no output'}"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self.forward.close()
        finally:
            try:
                kill_remote(self.ready.transport, self.pid_file, SERVER)
                self._thread.join(30)
            finally:
                self.ready.close()           # the session's scratch folder, then the device's lock

    def __enter__(self) -> "Endpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(req: DeviceRequest, settings: ServeSettings = ServeSettings(), *, warn=None, progress=None) -> Endpoint:
    """Lock the device (busy: wait, or with req.wait False refuse with DeviceBusy), preflight, push, start
    edgevlm-serve, forward its port; the returned Endpoint serves until stop()."""
    require_free(settings.port)
    ready = prepare(req.but(no_image=True, image=None), warn=warn, progress=progress)
    forward = thread = None
    pid_file, log_file = f"{ready.dep.scratch}/serve.pid", f"{ready.dep.scratch}/serve.log"
    try:
        argv = server_argv(ready, capped_threads(ready, req.threads, warn) or ready.profile.run.threads or 0,
                           settings, port=settings.port if ready.transport.kind == "local" else 0)
        command = f"{pinned(ready.profile, ' '.join(shlex.quote(a) for a in argv))} > {shlex.quote(log_file)} 2>&1"
        result: list = []
        thread = threading.Thread(target=_run, args=(ready, command, pid_file, result), daemon=True,
                                  name=f"{SERVER}@{ready.profile.name}")
        thread.start()
        remote_port = _wait_listening(ready, thread, log_file, result)
        forward = open_forward(ready.transport, remote_port, settings.port)
        model = _check(forward.local_port, ready.profile.name)
    except BaseException:
        if forward is not None:
            forward.close()
        if thread is not None:
            kill_remote(ready.transport, pid_file, SERVER)
            thread.join(30)
        ready.close()
        raise
    return Endpoint(ready, forward, pid_file, log_file, model, thread, result)


def server_argv(ready: Prepared, threads: int, settings: ServeSettings, *, port: int) -> list[str]:
    dep, run = ready.dep, ready.profile.run
    if not (ready.bundle.has(SERVER) or ready.bundle.info.get("on_device") and SERVER in ready.bundle.tools):
        raise NativeNotBuilt(f"the bundle at {ready.bundle.path} has no {SERVER}",
                             hint=f"edgevlm build --target {ready.profile.target}")
    return run_argv(f"./{SERVER}", model=dep.llm, mmproj=dep.mmproj, host="127.0.0.1", port=port,
                    threads=threads or None, n_gpu_layers=run.n_gpu_layers or None,
                    n_ctx=settings.ctx or None) + list(settings.extra)


def _run(ready: Prepared, command: str, pid_file: str, result: list) -> None:
    try:
        result.append(ready.transport.shell(tracked_line(command, pid_file), cwd=ready.dep.bundle,
                                            env=ready.dep.env, timeout=RUN_FOREVER_S))
    except BaseException as exc:           # the link went: reported by the waiter / exit_description
        result.append(exc)


def _wait_listening(ready: Prepared, thread: threading.Thread, log_file: str, result: list) -> int:
    """The device port from the server's "listening" line; a server that exits first is a DeviceError with the
    tail of its log."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        alive = thread.is_alive()
        log = ready.transport.read_text(log_file) or ""
        if match := LISTENING.search(log):
            return int(match.group(1))
        if not alive:
            how = result[0].describe() if result and isinstance(result[0], ShellResult) else f"lost: {result}"
            raise DeviceError(f"{SERVER} on {ready.profile.name} did not start ({how}): "
                              f"{log.strip()[-600:] or 'no output'}")
        time.sleep(POLL_S)
    raise DeviceError(f"{SERVER} on {ready.profile.name} did not listen within {READY_TIMEOUT_S:g} s")


def _check(port: int, device: str) -> str:
    """GET /health and /v1/models through the forward: the whole path works; the served model's id."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=10) as resp:
                if resp.status == 200:
                    break
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() > deadline:
                raise DeviceError(f"{SERVER} on {device} listens but {base}/health does not answer: {exc}") from None
        time.sleep(0.2)
    with urllib.request.urlopen(f"{base}/v1/models", timeout=10) as resp:
        models = json.load(resp).get("data", [])
    return models[0]["id"] if models else ""


def curl_example(endpoint: Endpoint) -> str:
    body = json.dumps({"model": endpoint.model, "messages": [{"role": "user", "content": "Hello!"}]})
    return f"curl {endpoint.url}/chat/completions -H 'Content-Type: application/json' -d '{body}'"
