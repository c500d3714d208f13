"""edgevlm-run's options, read from THE table the binary's parser is generated from (kernels/runtime/options.def).

The bench and `edgevlm run --device` build edgevlm-run's argv only through `run_argv`, so an option the Python
side produces is one the binary parses; a key missing from the table is an error here, not on the device.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from edgevlm.paths import kernels_dir

# EDGEVLM_OPTION(key, flag, alias, kind, default, binaries, help): see the table's header
ENTRY = re.compile(r'^EDGEVLM_OPTION\((\w+), "([^"]+)", "([^"]*)", (FLAG|STR|INT|FLOAT|BYTES), ("[^"]*"|[-\w.]+), '
                   r'(RUN|SERVE|BOTH), "((?:[^"\\]|\\.)*)"\)$')
BINARIES = {"edgevlm-run": ("RUN", "BOTH"), "edgevlm-serve": ("SERVE", "BOTH")}


@dataclass(frozen=True)
class Option:
    key: str
    flag: str
    alias: str
    kind: str          # FLAG, STR, INT, FLOAT, BYTES
    default: Any       # the binary's default (bool, str, int or float)
    binaries: str      # RUN, SERVE or BOTH
    help: str


def _default(kind: str, literal: str) -> Any:
    if kind == "FLAG":
        return literal == "true"
    if kind == "STR":
        return literal.strip('"')
    return float(literal) if kind == "FLOAT" else int(literal)


def table_file():
    return kernels_dir() / "runtime" / "options.def"


@lru_cache(maxsize=2)
def options(binary: str = "edgevlm-run") -> dict[str, Option]:
    """key -> Option of `binary` (edgevlm-run or edgevlm-serve), in the table's order."""
    takes = BINARIES[binary]
    out: dict[str, Option] = {}
    for line in table_file().read_text().splitlines():
        match = ENTRY.match(line.strip())
        if match and match.group(6) in takes:
            key, flag, alias, kind, default, binaries, help_ = match.groups()
            out[key] = Option(key, flag, alias, kind, _default(kind, default), binaries, help_)
    if not out:
        raise RuntimeError(f"{table_file()} holds no EDGEVLM_OPTION entries")
    return out


def run_argv(binary: str = "./edgevlm-run", **values: Any) -> list[str]:
    """argv of edgevlm-run (or of edgevlm-serve when `binary` ends with it); values of None or False are left
    out, True turns a FLAG on."""
    table = options("edgevlm-serve" if binary.endswith("edgevlm-serve") else "edgevlm-run")
    argv = [binary]
    for key, value in values.items():
        if key not in table:
            raise KeyError(f"{binary} has no option {key!r} (kernels/runtime/options.def)")
        option = table[key]
        if value is None or value is False:
            continue
        if option.kind == "FLAG":
            if value is not True:
                raise TypeError(f"{option.flag} is a flag: pass True, got {value!r}")
            argv.append(option.flag)
            continue
        expected = {"STR": str, "INT": int, "BYTES": int, "FLOAT": (int, float)}[option.kind]
        if isinstance(value, bool) or not isinstance(value, expected):
            raise TypeError(f"{option.flag} takes {option.kind}, got {value!r}")
        argv += [option.flag, str(value)]
    return argv
