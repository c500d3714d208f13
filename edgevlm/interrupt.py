"""SIGTERM and SIGHUP end an edgevlm command the way Ctrl-C does: through the clean-up.

Python's default for SIGTERM and SIGHUP is to die on the spot, so nothing in a `finally` runs: the processes
a command started (edgevlm-run here or on a phone, llama-bench, llama-mtmd-cli) would keep running and the device
lock would stay taken. `install()` turns both into an `Interrupted` (a KeyboardInterrupt, so every existing
Ctrl-C path — the tracked runner's remote kill, the local process-group kill, the bench's partial store — handles
them too), and the command exits 128 + the signal's number.
"""
from __future__ import annotations

import signal
from typing import Callable

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


def _raise(signum, frame) -> None:
    raise Interrupted(signum)


def install() -> Callable[[], None]:
    """Handle SIGTERM and SIGHUP from now on (the main thread only); returns what restores the previous ones."""
    previous = {sig: signal.signal(sig, _raise) for sig in HANDLED}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()] and None
