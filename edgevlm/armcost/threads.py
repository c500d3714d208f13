"""Several guest threads under the cost model: the work counted, the waiting left out.

Under qemu-user each guest thread is a host thread, so at -t 4 the instruction total includes what threads
execute while they wait for each other (libgomp's barrier spinning and futex calls, ggml_barrier), and that
depends on how the host schedules them: it changes from run to run. What does not change is the instructions
each stage executes OUTSIDE the waiting code: every chunk of every operation is computed once, whichever thread
takes it. So a multi-threaded run is counted in atomic mode (exact totals over all threads), with
OMP_WAIT_POLICY=passive (a waiting thread sleeps at once instead of spinning: far fewer instructions to leave
out, and faster under qemu), and each stage's instructions are split by function into busy and waiting.

Measured (tiny model, -t 4): the vision stages' busy counts repeat exactly in most runs; otherwise by a few
hundred instructions (~5e-6: glibc malloc's per-thread arenas, whichever thread allocates first), far below the
0.5 % a gate judges. What it gives: busy(stage) at N threads; busy(N) - busy(1) is the work the split adds (per-thread repacking,
chunk bookkeeping, each thread's team start); busy(N) / N is the stage's critical path if the split were
perfectly balanced, a lower bound. Not the critical path itself (the slowest thread between two barriers): that
needs counts per thread and per barrier phase, which the plugin does not keep yet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edgevlm.armcost.dump import CostDump
from edgevlm.armcost.measure import default_watch
from edgevlm.armcost.qemu import Watch, run_counted
from edgevlm.armcost.stages import stage_names
from edgevlm.armcost.symbols import Symbols, read_symbols

# functions whose instructions are waiting, not work: libgomp's runtime (barriers, team start/end, its futex
# calls), ggml's barrier, the LDP projector's spinning Team::barrier (kernels/ldp/team.h), glibc's lock-wait
# paths, yields, and the errno path a futex wait that lost its race takes
WAITING = re.compile(r"^(gomp_|GOMP_|omp_)|futex|^ggml_barrier$|Team::barrier\(|sched_yield|cpu_relax|"
                     r"^__lll_lock_wait|^__pthread_cond_wait|^pthread_cond_wait|nanosleep|^__syscall_error$|"
                     r"^__errno_location$|^syscall$")   # syscall(): libgomp's futex calls (other callers are rare and small)
PASSIVE = {"OMP_WAIT_POLICY": "passive"}


@dataclass(frozen=True)
class StageWork:
    busy: int
    waiting: int


def is_waiting(function: str) -> bool:
    return bool(WAITING.search(function))


def split_work(dump: CostDump, syms: Symbols) -> dict[str, StageWork]:
    """Per stage (by name): instructions outside and inside the waiting functions, all threads summed."""
    names = stage_names()
    busy: dict[int, int] = {}
    waiting: dict[int, int] = {}
    for b in dump.blocks:
        into = waiting if is_waiting(syms.function(b.pc)) else busy
        for stage, execs in b.execs.items():
            into[stage] = into.get(stage, 0) + execs * b.n_insns
    return {names.get(s, str(s)): StageWork(busy.get(s, 0), waiting.get(s, 0)) for s in sorted(dump.stages)}


def count_work(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
               watch: Watch | None = None, timeout: float = 3600, mode: str = "atomic") -> dict[str, StageWork]:
    """argv (a static aarch64 program of the bundle, any thread count) counted exactly over all its threads
    (mode "inline" is exact, and much faster, only when the program runs one thread)."""
    binary = Path(argv[0])
    run = run_counted(argv, watch=watch or default_watch(binary), cwd=cwd, env={**PASSIVE, **(env or {})},
                      timeout=timeout, mode=mode)
    return split_work(run.dump, read_symbols(binary))

