"""`edgevlm doctor`."""
from __future__ import annotations

import typer
from rich.table import Table

from edgevlm import doctor
from edgevlm.progress import console


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor_cmd() -> None:
        """Show versions, the pinned llama.cpp, what native parts are built and which system tools are present."""
        for title, checks in (("python", doctor.python_checks()), ("native", doctor.native_checks()),
                              ("system tools", doctor.tool_checks())):
            table = Table(title=title, show_header=False, title_justify="left")
            for check in checks:
                table.add_row("[green]ok[/]" if check.ok else "[yellow]--[/]", check.name, check.detail)
            console.print(table)
