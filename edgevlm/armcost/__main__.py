"""Count what one command of the arm64 bundle executes:

    python -m edgevlm.armcost [--top 25] [--no-markers] [--env K=V ...] -- BUILD/android-arm64/bin/PROGRAM ARGS...

Prints the total, the instructions per stage (when the program calls edgevlm's stage markers), per function
group and the top functions. Exact and reproducible: run it before and after a kernel change.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgevlm.armcost.attribute import by_function, by_group
from edgevlm.armcost.qemu import Watch, marker_watch, run_counted
from edgevlm.armcost.stages import stage_names
from edgevlm.armcost.symbols import read_symbols
from edgevlm.errors import CostModelError, EdgeVLMError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgevlm.armcost", description=__doc__.splitlines()[0])
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--no-markers", action="store_true", help="the program has no edgevlm stage markers")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="environment of the program")
    p.add_argument("--mode", default="inline", choices=("inline", "atomic"),
                   help="atomic: exact with several guest threads (slower)")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    try:
        if not cmd or not Path(cmd[0]).is_file():
            raise CostModelError("name a static aarch64 program after --, e.g. build/android-arm64/bin/edgevlm-run")
        if not 1 <= a.top <= 1000:
            raise CostModelError("--top must be 1..1000")
        env = dict(kv.split("=", 1) for kv in a.env if "=" in kv)
        binary = Path(cmd[0])
        watch = Watch() if a.no_markers else marker_watch(binary)
        run = run_counted(cmd, watch=watch, env=env, mode=a.mode)
        _print(run.dump, read_symbols(binary), a.top)
    except EdgeVLMError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


def _print(dump, syms, top: int) -> None:
    print(f"total {dump.total:,} instructions ({dump.vcpus} guest thread{'s' if dump.vcpus != 1 else ''})")
    names = stage_names()
    for sid, (n, entries) in sorted(dump.stages.items()):
        print(f"  stage {names.get(sid, sid)!s:12} {n:>16,}  ({entries} entries)")
    funcs = by_function(dump, syms)
    for group, n in by_group(funcs).most_common():
        print(f"  group {group:28} {n:>16,}  {100 * n / max(dump.total, 1):5.1f}%")
    for name, n in funcs.most_common(top):
        print(f"  {n:>16,}  {100 * n / max(dump.total, 1):5.1f}%  {name[:110]}")


if __name__ == "__main__":
    sys.exit(main())
