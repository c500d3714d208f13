"""`edgevlm lab head|join|status|run`: the device lab on Ray (docs/lab.md). Thin over edgevlm.lab."""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from edgevlm.cli import options as opt
from edgevlm.cli.results import STORE_HELP, store_path
from edgevlm.errors import LabError
from edgevlm.lab.matrix import load_matrix
from edgevlm.lab.node import NODE_ENV, NodeRegistry, discover, ray_start_argv, registry_path, stop_node
from edgevlm.lab.rayenv import AUTH_MODE, auth_enabled, auth_env, import_ray, is_loopback, use_token
from edgevlm.lab.run import run_matrix
from edgevlm.lab.status import lab_status
from edgevlm.progress import console, err_console, progress_bar

LOCAL = {
    "port": opt.Opt(int, 6379, "the head's port (what `lab join` and `lab run` dial)", ("--port",), min=1, max=65535),
    "address": opt.Opt(str, ..., "the head's HOST:PORT"),
    "profile": opt.Opt(Optional[list[str]], None, "device profile this host offers (repeatable); adb profiles "
                       "without a serial take every adb device no other profile claims", ("--profile",)),
    "adb_port": opt.Opt(Optional[int], None, "this host's adb server port (default: adb's own, 5037)", ("--adb-port",)),
    "node_ip_address": opt.Opt(str, "127.0.0.1", "the address this node binds to and is reached at; the default "
                               "keeps the lab on this machine's loopback. Another host's lab needs this host's "
                               "address here (and --auth-token: see docs/lab.md, Security)",
                               ("--listen", "--node-ip-address"), metavar="ADDR"),
    "auth_token": opt.Opt(Optional[Path], None, "a file holding the lab's shared token: Ray's token authentication "
                          "on (same as RAY_AUTH_MODE=token with RAY_AUTH_TOKEN_PATH=FILE); every node and driver "
                          "needs it", ("--auth-token",), metavar="FILE"),
    "dashboard": opt.Opt(bool, False, "Ray's dashboard (off by default)", ("--dashboard/--no-dashboard",)),
    "num_cpus": opt.Opt(Optional[int], None, "CPUs Ray may use here (cells take none)", ("--num-cpus",)),
    "object_store_mb": opt.Opt(Optional[int], None, "Ray object store size", ("--object-store-mb",)),
    "bundle": opt.Opt(Optional[Path], None, "preflight devices against this bundle", ("--bundle",)),
    "lab_address": opt.Opt(str, "127.0.0.1:6379", "the lab's head, HOST:PORT", ("--address",)),
    "matrix_file": opt.Opt(Path, ..., "MATRIX.toml (docs/lab.md)"),
    "store": opt.Opt(Optional[str], None, STORE_HELP, ("--store",)),
}


@dataclass(frozen=True)
class NodeArgs:
    """`lab head`'s and `lab join`'s options (declared in LOCAL); a head has no address to join."""
    address: str | None = None
    port: int = 0
    profile: list[str] | None = None
    adb_port: int | None = None
    node_ip_address: str = "127.0.0.1"
    auth_token: Path | None = None
    dashboard: bool = False
    num_cpus: int | None = None
    object_store_mb: int | None = None
    bundle: Path | None = None

    @property
    def head(self) -> bool:
        return self.address is None


# each command's options, in --help order
HEAD = ("port", "profile", "adb_port", "node_ip_address", "auth_token", "dashboard", "num_cpus", "object_store_mb",
        "bundle")
JOIN = ("address", *(name for name in HEAD if name not in ("port", "dashboard")))


@dataclass(frozen=True)
class StatusArgs:
    lab_address: str
    auth_token: Path | None


@dataclass(frozen=True)
class RunArgs:
    matrix_file: Path
    lab_address: str
    store: str | None
    auth_token: Path | None


def register(app: typer.Typer) -> None:
    lab = typer.Typer(help="A device lab: many hosts and devices, one matrix, on Ray (docs/lab.md).",
                      no_args_is_help=True)
    opt.command(lab, "head", NodeArgs, LOCAL, HEAD)(head_cmd)
    opt.command(lab, "join", NodeArgs, LOCAL, JOIN)(join_cmd)
    opt.command(lab, "status", StatusArgs, LOCAL)(status_cmd)
    opt.command(lab, "run", RunArgs, LOCAL)(run_cmd)
    app.add_typer(lab, name="lab")


def head_cmd(a: NodeArgs) -> None:
    """Start the lab's head (ray start --head, in the foreground), with this host's devices if any."""
    _start(a)


def join_cmd(a: NodeArgs) -> None:
    """Discover and preflight this host's devices, then join the lab (in the foreground) advertising the
    healthy ones as Ray resources device:<serial> and profile:<name>."""
    _start(a)


def _start(a: NodeArgs) -> None:
    head, address, port, node_ip = a.head, a.address, a.port, a.node_ip_address
    import_ray()
    env = {**os.environ, **auth_env(a.auth_token), "RAY_SCHEDULER_EVENTS": "0"}
    if AUTH_MODE not in env and auth_enabled(env):
        # Ray's head turns token authentication on by itself when it finds a token; a joining node does not
        # and would be refused: say it explicitly for both
        env[AUTH_MODE] = "token"
    _check_reachable(head, address, node_ip)
    registry = discover(a.profile, a.adb_port, a.bundle) if a.profile else NodeRegistry(a.adb_port, ())
    _show_devices(registry)
    path = registry_path(a.adb_port)
    registry.save(path)
    argv = ray_start_argv(head=head, address=address, port=port, node_ip=node_ip, registry=registry,
                          num_cpus=a.num_cpus, object_store_mb=a.object_store_mb, dashboard=a.dashboard)
    where = f"{node_ip}:{port}" if head else address
    secured = auth_enabled(env)
    err_console.print(f"{'lab head on' if head else 'joining'} {where} with {len(registry.healthy())} device(s), "
                      f"token authentication {'on' if secured else 'off'}; Ctrl-C leaves the lab", highlight=False)
    if not secured and not is_loopback(node_ip):
        err_console.print(f"[bold yellow]warning:[/] this node listens on {node_ip} with token authentication "
                          "off: anyone who can reach it can run code on this host. Pass --auth-token FILE "
                          "(docs/lab.md, Security)", highlight=False)
    code = 0
    try:
        child = subprocess.Popen(argv, env={**env, NODE_ENV: str(path)})
        code = child.wait()
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM / SIGHUP (edgevlm.interrupt): the way a node leaves the lab
        code = 0
    finally:
        _ignore_signals()  # a second Ctrl-C must not cut the stop short
        stop_node(path)  # every Ray daemon of this node, wherever Ray put its process group
        path.unlink(missing_ok=True)
    if code:
        raise typer.Exit(code)


def _ignore_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _check_reachable(head: bool, address: Optional[str], node_ip: str) -> None:
    """A node on loopback cannot join a head on another address: the head could never call it back."""
    if not head and address and not is_loopback(address.rpartition(":")[0]) and is_loopback(node_ip):
        raise LabError(f"this node would listen on {node_ip} only, where the head at {address} cannot reach it",
                       hint="pass --listen ADDR with this host's address on the head's network (and --auth-token)")


def _show_devices(registry) -> None:
    table = Table(title="devices on this host", title_justify="left")
    for column in ("serial", "profile", "advertised", "why not / warnings"):
        table.add_column(column)
    for d in registry.devices:
        table.add_row(d.serial, d.profile, "yes" if d.healthy else "[red]no[/]",
                      d.reason if not d.healthy else "; ".join(d.warnings))
    console.print(table)


def status_cmd(a: StatusArgs) -> None:
    """Hosts, devices, what each runs, and the matrices still queued."""
    use_token(a.auth_token)
    address = a.lab_address

    state = lab_status(address)
    table = Table(title=f"lab at {address}", title_justify="left")
    for column in ("host", "node", "device", "profile", "running"):
        table.add_column(column)
    for host in state.hosts:
        if not host.alive:
            continue
        for serial, profile, what in host.devices or [("-", "-", "no devices")]:
            table.add_row(host.address, host.node_id[:8], serial, profile, what)
    console.print(table)
    for m in state.matrices:
        console.print(f"matrix {m['id']}: {m['finished']}/{m['cells']} cells finished, "
                      f"{m['queued_or_running']} queued or running", highlight=False)
    if not state.matrices:
        console.print("no matrix queued")


def run_cmd(a: RunArgs) -> None:
    """Run every cell of a matrix on the lab's devices; store every run; exit 1 when a cell failed."""
    use_token(a.auth_token)

    matrix = load_matrix(a.matrix_file)
    with progress_bar() as progress:
        result = run_matrix(matrix, a.lab_address, store_path(a.store), progress=progress)
    _summary(result)
    if result.failed:
        for report in result.failed:
            err_console.print(f"[red]failed:[/] {report.cell.label}: {report.failure}", highlight=False)
        raise SystemExit(1)  # SystemExit, not typer.Exit: see cli/report.py


def _summary(result) -> None:
    table = Table(title=f"matrix {result.matrix_id}: {len(result.reports)} cells in {result.wall_s:.1f} s",
                  title_justify="left")
    for column in ("cell", "device(s)", "status", "runs", "s"):
        table.add_column(column)
    for r in result.reports:
        devices = ", ".join(a.serial or "?" for a in r.attempts) or "-"
        status = "ok" if r.ok else "failed"
        if r.ok and len(r.attempts) > 1:
            status = f"ok after {len(r.attempts) - 1} retry"
        took = sum(a.ended - a.started for a in r.attempts if a.ended)
        table.add_row(r.cell.label, devices, status, ",".join(map(str, r.run_ids)) or "-", f"{took:.1f}",
                      style=None if r.ok else "red")
    console.print(table)
