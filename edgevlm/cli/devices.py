"""`edgevlm devices`: what is connected — adb devices, configured ssh hosts, this machine — with fingerprints."""
from __future__ import annotations

import typer
from rich.table import Table

from edgevlm.progress import console

COLUMNS = ("model", "soc", "cores", "memory", "os", "governor")


def register(app: typer.Typer) -> None:
    @app.command("devices")
    def devices_cmd(
        no_ssh: bool = typer.Option(False, "--no-ssh", help="do not probe the ssh hosts of the profiles"),
        json_out: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    ) -> None:
        """List connected devices (adb, ssh profiles, the host) with model, SoC, cores, memory, OS, governor."""
        from edgevlm.device.inventory import inventory

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
