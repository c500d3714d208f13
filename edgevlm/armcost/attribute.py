"""Executed instructions per function and per function group, per stage."""
from __future__ import annotations

from collections import Counter

from edgevlm.armcost.dump import CostDump
from edgevlm.armcost.symbols import Symbols, group_of


def by_function(dump: CostDump, syms: Symbols, stage: int | None = None) -> Counter:
    out: Counter = Counter()
    for b in dump.blocks:
        n = b.insns(stage)
        if n:
            out[syms.function(b.pc)] += n
    return out


def by_group(functions: Counter) -> Counter:
    out: Counter = Counter()
    for name, n in functions.items():
        out[group_of(name)] += n
    return out
