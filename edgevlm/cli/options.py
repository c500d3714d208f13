"""Every command-line option that more than one command takes, declared once, and the one way commands use it.

`OPTIONS` is a table: one row (type, default, flags, one help text) per option name. A command names its
options as the fields of a frozen dataclass and registers its body with `command`: the typer signature is built
from the rows (a command-only option is a row in the command's own `local` table, in the same shape; a command
that needs another default or a longer help passes `OPTIONS[name].but(...)` there), and the body receives ONE
typed object instead of a dozen loose arguments. Numeric bounds are rows too, so each command refuses a negative
count the same way (exit 2, before anything runs).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, TypeVar

import typer

A = TypeVar("A")


@dataclass(frozen=True)
class Opt:
    """One command-line parameter. No `flags`: a positional argument."""
    type: Any
    default: Any
    help: str
    flags: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    metavar: str | None = None

    def but(self, **changes: Any) -> "Opt":
        return replace(self, **changes)

    def info(self) -> Any:
        """typer's declaration of this parameter (the default of a command function's parameter)."""
        extra = {k: v for k, v in (("min", self.min), ("max", self.max), ("metavar", self.metavar))
                 if v is not None}
        if not self.flags:
            return typer.Argument(self.default, help=self.help, **extra)
        return typer.Option(self.default, *self.flags, help=self.help, **extra)


OPTIONS: Mapping[str, Opt] = MappingProxyType({
    "model_dir": Opt(Path, ..., "a converted model folder (edgevlm convert output)"),
    "device": Opt(str, None, "device profile name (devices/*.toml, ~/.config/edgevlm/devices); `host` is this "
                  "machine", ("--device",)),
    "serial": Opt(str, None, "adb serial (default: the profile's, or the only device)", ("--serial",)),
    "host": Opt(str, None, "ssh host or user@host (default: the profile's)", ("--host",)),
    "bundle_dir": Opt(Path, None, "an already built bundle (any folder written by `edgevlm build`) instead of "
                      "the target's", ("--bundle",)),
    "quant": Opt(str, None, "which LLM quant in MODEL_DIR (when several)", ("--quant",)),
    "threads": Opt(int, 0, "CPU threads (0: the profile's; all cores on the host)", ("--threads", "-t"), min=0),
    "json_file": Opt(Path, None, "also write the record(s) to this JSON file", ("--json",)),
    "store": Opt(str, None, "results store: SQLite file or postgresql:// URL (default: $EDGEVLM_STORE)",
                 ("--store",)),
    "wait": Opt(bool, True, "when another edgevlm command holds the device: wait for it (default), or exit 3 "
                "(--no-wait)", ("--wait/--no-wait",)),
    "image": Opt(Path, None, "PNG/JPEG to ask about", ("--image",)),
    "jobs": Opt(int, None, "parallel compile jobs (default: all cores)", ("--jobs", "-j"), min=1),
    "temp": Opt(float, 0.0, "sampling temperature (0: greedy)", ("--temp",), min=0.0),
    "seed": Opt(int, 0, "sampling seed (with --temp > 0)", ("--seed",)),
})

NO_LOCAL: Mapping[str, Opt] = MappingProxyType({})


def command(app: typer.Typer, name: str, args: type[A], local: Mapping[str, Opt] = NO_LOCAL,
            names: tuple[str, ...] = ()) -> Callable[[Callable[[A], None]], Callable[[A], None]]:
    """Register `body(a: args)` as the command `name`: one parameter per field of the dataclass `args` (or per
    name in `names`, the other fields keeping their defaults), in that order (the --help order), declared by its
    row in `local` or else in `OPTIONS`."""
    keys = names or tuple(f.name for f in fields(args))  # type: ignore[arg-type]
    rows = {key: local[key] if key in local else OPTIONS[key] for key in keys}

    def register(body: Callable[[A], None]) -> Callable[[A], None]:
        def cli(**values: Any) -> None:
            body(args(**values))

        cli.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=row.info(), annotation=row.type)
            for key, row in rows.items()])
        cli.__name__, cli.__qualname__, cli.__doc__ = body.__name__, body.__qualname__, body.__doc__
        cli.__module__ = body.__module__
        app.command(name)(cli)
        return body
    return register

