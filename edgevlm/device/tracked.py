"""A device process that does not outlive its caller: its pid is recorded on the device, and a timeout, a lost
link or Ctrl-C kills it there over the same transport.

Killing the local `adb` / `ssh` client does not end the remote command (adbd and sshd leave a non-tty command
running), so a timed-out run would keep heating the device and skew the next runs. The command runs as
``sh -c 'echo $$ > PIDFILE; exec COMMAND'``: `exec` keeps the pid (taskset execs too), so the pid file names the
binary itself.
"""
from __future__ import annotations

import shlex

from edgevlm.device.transport import ShellResult, Transport
from edgevlm.errors import DeviceError

KILL_GRACE_S = 1


def tracked_line(command: str, pid_file: str) -> str:
    return f"sh -c {shlex.quote(f'echo $$ > {shlex.quote(pid_file)}; exec {command}')}"


def run_tracked(transport: Transport, command: str, *, pid_file: str, name: str, cwd: str | None = None,
                env: dict[str, str] | None = None, timeout: float | None = None, on_output=None) -> ShellResult:
    """Run `command` (whose process is `name`, e.g. edgevlm-run) on the device; on any failure to finish (timeout,
    link lost, KeyboardInterrupt) kill it on the device, then re-raise. `on_output` streams stdout chunks."""
    line = tracked_line(command, pid_file)
    try:
        if on_output is not None:
            return transport.stream(line, on_output, cwd=cwd, env=env, timeout=timeout)
        return transport.shell(line, cwd=cwd, env=env, timeout=timeout)
    except BaseException:
        kill_remote(transport, pid_file, name)
        raise


def kill_remote(transport: Transport, pid_file: str, name: str) -> bool:
    """TERM, then KILL after a grace second, the process in pid_file if its command line still names `name`
    (a pid recycled by an unrelated process is left alone). False when the device cannot be reached."""
    pf = shlex.quote(pid_file)
    alive = f'[ -n "$pid" ] && tr "\\000" " " < /proc/$pid/cmdline 2>/dev/null | grep -q -- {shlex.quote(name)}'
    # children first (a wrapper script's; edgevlm-run itself has none), then the process, TERM then KILL
    script = (f'pid=$(cat {pf} 2>/dev/null); if {alive}; then pkill -TERM -P "$pid" 2>/dev/null; '
              f'kill -TERM "$pid" 2>/dev/null; sleep {KILL_GRACE_S}; '
              f'if {alive}; then kill -KILL "$pid" 2>/dev/null; fi; fi; rm -f {pf}; true')
    try:
        transport.shell(script, timeout=30)
    except DeviceError:
        return False
    return True
