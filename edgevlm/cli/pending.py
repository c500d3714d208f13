"""Commands whose part of the product has not landed yet say so plainly (exit 2), never fake output."""
from __future__ import annotations

import typer

from edgevlm.errors import NotAvailableYet


def register_pending(app: typer.Typer, name: str, summary: str, waits_for: str) -> None:
    def command(ctx: typer.Context) -> None:
        raise NotAvailableYet(f"`edgevlm {name}` is not available yet: it waits for {waits_for}.")

    command.__doc__ = f"{summary} [not available yet: waits for {waits_for}]"
    app.command(name, context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                help=command.__doc__)(command)
