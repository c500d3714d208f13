"""`edgevlm devices`: what is connected — adb devices, configured ssh hosts, this machine — with fingerprints.
`edgevlm devices --check NAME`: the preflight a bench or run does, on its own (exit 2 when it refuses)."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from edgevlm.artifact import find_model
from edgevlm.cli import options as opt
from edgevlm.device import preflight
from edgevlm.device.connect import transport_for
from edgevlm.device.inventory import inventory
from edgevlm.device.preflight import cpus_mask
from edgevlm.device.profiles import load_profile
from edgevlm.device.remote_build import device_bundle
from edgevlm.progress import console, err_console
from edgevlm.toolchain.bundle import local_bundle

COLUMNS = ("model", "soc", "cores", "memory", "os", "governor")


def register(app: typer.Typer) -> None:
    @app.command("devices")
    def devices_cmd(
        no_ssh: bool = typer.Option(False, "--no-ssh", help="do not probe the ssh hosts of the profiles"),
        json_out: bool = typer.Option(False, "--json", help="print JSON instead of a table"),  # a flag here
        check: str = typer.Option(None, "--check", help="preflight one device profile: cores, features, space, "
                                  "memory, thermal zones, L4T/CUDA; what a bench would adapt or refuse"),
        serial: str = opt.serial(),
        host: str = opt.host(),
        model_dir: Path = typer.Option(None, "--model", help="also judge this converted model (with --check)"),
        bundle_dir: Path = opt.bundle(),
    ) -> None:
        """List connected devices (adb, ssh profiles, the host) with model, SoC, cores, memory, OS, governor."""
        if check:
            _check(check, serial, host, model_dir, bundle_dir, json_out)
            return

        rows = inventory(probe_ssh=not no_ssh)
        if json_out:
            import json

            typer.echo(json.dumps(rows, indent=2))
            return
        table = Table(title="devices")
        for column in ("name", "via", "status", *COLUMNS):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(row["name"], row["via"], row["status"], *(row.get(c, "") for c in COLUMNS))
        console.print(table)


def _check(name: str, serial: str | None, host: str | None, model_dir: Path | None, bundle_dir: Path | None,
           json_out: bool) -> None:
    profile = load_profile(name)
    model = find_model(model_dir) if model_dir else None
    transport = transport_for(profile, serial=serial, host=host)
    bundle = local_bundle(profile.target, bundle_dir) or device_bundle(transport, profile)
    result = preflight.check(transport, profile, bundle, model)
    if json_out:
        import json

        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        console.print(_table(result, bundle))
    for line in result.warnings:
        err_console.print(f"[yellow]warning:[/] {line}")
    result.require()


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
