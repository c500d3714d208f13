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

ENTRY = re.compile(r'^EDGEVLM_OPTION\((\w+), "([^"]+)", "([^"]*)", (FLAG|STR|INT|FLOAT), "((?:[^"\\]|\\.)*)"\)$')


@dataclass(frozen=True)
class Option:
    key: str
    flag: str
    alias: str
    kind: str          # FLAG, STR, INT, FLOAT
    help: str


def table_file():
    return kernels_dir() / "runtime" / "options.def"


@lru_cache(maxsize=1)
def options() -> dict[str, Option]:
    """key -> Option, in the table's order."""
    out: dict[str, Option] = {}
    for line in table_file().read_text().splitlines():
        match = ENTRY.match(line.strip())
        if match:
            out[match.group(1)] = Option(*match.groups())
    if not out:
        raise RuntimeError(f"{table_file()} holds no EDGEVLM_OPTION entries")
    return out


def run_argv(binary: str = "./edgevlm-run", **values: Any) -> list[str]:
    """argv of edgevlm-run; values of None or False are left out, True turns a FLAG on."""
    table = options()
    argv = [binary]
    for key, value in values.items():
        if key not in table:
            raise KeyError(f"edgevlm-run has no option {key!r} (kernels/runtime/options.def)")
        option = table[key]
        if value is None or value is False:
            continue
        if option.kind == "FLAG":
            if value is not True:
                raise TypeError(f"{option.flag} is a flag: pass True, got {value!r}")
            argv.append(option.flag)
            continue
        expected = {"STR": str, "INT": int, "FLOAT": (int, float)}[option.kind]
        if isinstance(value, bool) or not isinstance(value, expected):
            raise TypeError(f"{option.flag} takes {option.kind}, got {value!r}")
        argv += [option.flag, str(value)]
    return argv
