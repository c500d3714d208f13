"""`edgevlm devices`: what is connected — adb devices, configured ssh hosts, this machine — with fingerprints.
`edgevlm devices --check NAME`: the preflight a bench or run does, on its own (exit 2 when it refuses)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from edgevlm.artifact import find_model
from edgevlm.bench.sim import sim_problems
from edgevlm.cli import options as opt
from edgevlm.device import preflight
from edgevlm.device.connect import transport_for
from edgevlm.device.inventory import inventory
from edgevlm.device.preflight import cpus_mask
from edgevlm.device.profiles import load_profile
from edgevlm.device.remote_build import device_bundle
from edgevlm.errors import PreflightRefused
from edgevlm.progress import console, err_console
from edgevlm.toolchain.bundle import local_bundle

COLUMNS = ("model", "soc", "cores", "memory", "os", "governor")


LOCAL = {
    "no_ssh": opt.Opt(bool, False, "do not probe the ssh hosts of the profiles", ("--no-ssh",)),
    "json_out": opt.Opt(bool, False, "print JSON instead of a table", ("--json",)),   # a flag here, not a file
    "check": opt.Opt(str, None, "preflight one device profile: cores, features, space, memory, thermal zones, "
                     "L4T/CUDA; what a bench would adapt or refuse", ("--check",)),
    "model_dir": opt.Opt(Path, None, "also judge this converted model (with --check)", ("--model",)),
}


@dataclass(frozen=True)
class DevicesArgs:
    """`edgevlm devices`' options, in --help order (declared in LOCAL, else in cli/options.py)."""
    no_ssh: bool
    json_out: bool
    check: str | None
    serial: str | None
    host: str | None
    model_dir: Path | None
    bundle_dir: Path | None


def register(app: typer.Typer) -> None:
    opt.command(app, "devices", DevicesArgs, LOCAL)(devices_cmd)


def devices_cmd(a: DevicesArgs) -> None:
    """List connected devices (adb, ssh profiles, the host) with model, SoC, cores, memory, OS, governor."""
    if a.check:
        _check(a.check, a)
        return

    rows = inventory(probe_ssh=not a.no_ssh)
    if a.json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="devices")
    for column in ("name", "via", "status", *COLUMNS):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["via"], row["status"], *(row.get(c, "") for c in COLUMNS))
    console.print(table)


def _check(name: str, a: DevicesArgs) -> None:
    profile = load_profile(name)
    if profile.transport == "sim":
        return _check_sim(profile, a)
    model = find_model(a.model_dir) if a.model_dir else None
    transport = transport_for(profile, serial=a.serial, host=a.host)
    bundle = local_bundle(profile.target, a.bundle_dir) or device_bundle(transport, profile)
    result = preflight.check(transport, profile, bundle, model)
    if a.json_out:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        console.print(_table(result, bundle))
    for line in result.warnings:
        err_console.print(f"[yellow]warning:[/] {line}")
    result.require()


def _check_sim(profile, a: DevicesArgs) -> None:
    """arm64-sim is qemu on this host: nothing to read from a device; what matters is that this host can count
    (qemu-user, the plugin, nm, LLVM's tools: the lab's own check) and that the arm64 bundle is built."""
    bundle = local_bundle(profile.target, a.bundle_dir)
    problems = sim_problems() + ([] if bundle else [f"no {profile.target} bundle built "
                                                    f"(edgevlm build --target {profile.target})"])
    if a.json_out:
        typer.echo(json.dumps({"device": profile.name, "ok": not problems, "refusals": problems,
                               "bundle": str(bundle.path) if bundle else None}, indent=2))
    else:
        table = Table(title=f"preflight {profile.name}", show_header=False, title_justify="left")
        table.add_row("counts on", "qemu-user with the cost plugin on this host (1 thread)")
        table.add_row("bundle", f"{bundle.target} at {bundle.path}" if bundle else "none built for this target")
        table.add_row("verdict", "ok" if not problems else "REFUSED: " + "; ".join(problems))
        console.print(table)
    if problems:
        raise PreflightRefused(f"{profile.name}: " + "; ".join(problems),
                               hint="apt-get install qemu-user llvm-19 binutils-aarch64-linux-gnu; make native")


def _table(result, bundle) -> Table:
    facts = result.facts
    table = Table(title=f"preflight {result.device}", show_header=False, title_justify="left")
    speeds = ", ".join(f"cpu{c}" + "".join(part for part, value in (
        (f" {facts.speed.get(c, (0, 0))[0] / 1e6:.2f} GHz", facts.speed.get(c, (0, 0))[0]),
        (f" capacity {facts.speed.get(c, (0, 0))[1]}", facts.speed.get(c, (0, 0))[1])) if value) for c in facts.online)
    rows = [("machine", facts.machine), ("online cores", f"{speeds} (mask {cpus_mask(facts.online)})"),
            ("cores used", f"cpu{','.join(map(str, result.cpus))} (mask {result.cpu_mask or 'none'}), "
                           f"{result.threads} threads"),
            ("CPU features", " ".join(f for f in ("asimddp", "fphp", "asimdhp", "i8mm", "sve") if f in facts.features)
             or "-"),
            ("free memory", _size(facts.mem_available_bytes)), ("free space (workdir)", _size(facts.disk_free_bytes)),
            ("to push", _size(result.bytes_to_push)),
            ("thermal zones", ", ".join(f"{facts.zones.get(z, '?')}" for z in result.zones) or "none"),
            ("L4T / CUDA", f"{facts.l4t or '-'} / {facts.cuda or '-'}"),
            ("bundle", f"{bundle.target} at {bundle.path}" if bundle else "none built for this target"),
            ("verdict", "ok" if result.ok else "REFUSED: " + "; ".join(result.refusals))]
    for key, value in rows:
        table.add_row(key, value)
    return table


def _size(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
