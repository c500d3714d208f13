"""SIGTERM and SIGHUP end an edgevlm command the way Ctrl-C does: through the clean-up.

Python's default for SIGTERM and SIGHUP is to die on the spot, so nothing in a `finally` runs: the processes
a command started (edgevlm-run here or on a phone, llama-bench, llama-mtmd-cli) would keep running and the device
lock would stay taken. `install()` turns both into an `Interrupted` (a KeyboardInterrupt, so every existing
Ctrl-C path — the tracked runner's remote kill, the local process-group kill, the bench's partial store — handles
them too), and the command exits 128 + the signal's number.
"""
from __future__ import annotations

import os
import signal
import subprocess

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_of(exc: BaseException) -> int:
    """The signal behind an interrupt: SIGINT for a plain KeyboardInterrupt."""
    return getattr(exc, "signum", signal.SIGINT)


def signal_name(exc: BaseException) -> str:
    return signal.Signals(signal_of(exc)).name


def exit_code(exc: BaseException) -> int:
    return 128 + signal_of(exc)


class Handled:
    """SIGTERM and SIGHUP handled from now on (the main thread only), until restore(). `last` is the last signal
    received: typer turns an interrupt into exit 130 on its way out, and this says which signal it was."""

    def __init__(self) -> None:
        self.last: int | None = None
        self._previous = {sig: signal.signal(sig, self._raise) for sig in HANDLED}

    def _raise(self, signum, frame) -> None:
        self.last = signum
        raise Interrupted(signum)

    def exit_code(self, code: int) -> int:
        """The command's exit code, 128 + the signal when typer reported an interrupt as 130."""
        return 128 + self.last if code == 130 and self.last is not None else code

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def kill_group(proc, grace_s: float = 2.0) -> None:
    """End a process started with start_new_session=True and everything in its group, then reap it: SIGTERM
    first (ninja passes it on to the compilers it runs in groups of their own; edgevlm-run frees and exits),
    SIGKILL for what is left after `grace_s`."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            proc.send_signal(sig) if proc.poll() is None else None
        try:
            proc.wait(timeout=wait_s)
            if sig == signal.SIGTERM:
                os.killpg(proc.pid, signal.SIGKILL)      # the leader left; anything still in its group goes now
            return
        except subprocess.TimeoutExpired:
            continue
        except (ProcessLookupError, PermissionError):
            return
