"""A command of the android-arm64 bundle run under dynamic qemu-user with edgevlm's counting plugin.

Determinism: the program sees a fixed environment (only what the caller passes, plus PATH and LANG), the same
argv and working folder, address-space randomisation off (setarch -R), and a virtual clock (the plugin answers
clock_gettime / gettimeofday with 1 ns per executed instruction: llama.cpp formats elapsed times into its log
even when nothing prints them), so the same bundle and the same input give the same counts run after run.
What still reads the host: /proc (edgevlm-run's memory samples parse /proc/self/statm in a fixed number of
instructions; pass --mem-available so it does not parse MemAvailable). qemu-user-static cannot load plugins: the dynamic `qemu-aarch64`
(Debian's qemu-user) is required.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgevlm.armcost.dump import CostDump, parse_dump
from edgevlm.armcost.symbols import address_of
from edgevlm.errors import CostModelError
from edgevlm.paths import host_bin_dir

QEMU = "qemu-aarch64"
PLUGIN = "libedgevlm-qemu-cost.so"
CPU = "cortex-a76"   # ARMv8.2-A with dotprod and fp16, no SVE / i8mm: the Snapdragon 888's instruction set


@dataclass(frozen=True)
class Watch:
    """How the plugin finds stage boundaries: the runtime's marker, or entries into named functions."""
    marker: tuple[int, int] | None = None      # (address, size) of edgevlm_stage_marker
    slots: int | None = None                   # address of edgevlm_stage_slots
    enters: tuple[tuple[int, int], ...] = ()   # (function address, stage)

    def plugin_args(self) -> list[str]:
        args = []
        if self.marker and self.slots is not None:
            start, size = self.marker
            args += [f"marker={start:#x}", f"marker_end={start + size:#x}", f"slots={self.slots:#x}", "nslots=256"]
        args += [f"enter={pc:#x}:{stage}" for pc, stage in self.enters]
        return args


@dataclass(frozen=True)
class CountedRun:
    dump: CostDump
    stdout: str
    stderr: str


def marker_watch(binary: Path) -> Watch:
    return Watch(marker=address_of(binary, "edgevlm_stage_marker"),
                 slots=address_of(binary, "edgevlm_stage_slots")[0])


def entry_watch(binary: Path, entries: dict[str, int]) -> Watch:
    """Stages for programs without markers: entering function NAME (a C symbol) begins stage entries[NAME]."""
    return Watch(enters=tuple((address_of(binary, name)[0], stage) for name, stage in entries.items()))


def plugin_path() -> Path:
    path = host_bin_dir() / PLUGIN
    if not path.is_file():
        raise CostModelError(f"the counting plugin {path} is not built",
                             hint="edgevlm build --target host (make native) builds it")
    return path


def qemu_path() -> str:
    path = shutil.which(QEMU)
    if not path:
        raise CostModelError(f"{QEMU} (dynamic qemu-user, which loads plugins) not found",
                             hint="apt-get install qemu-user libcapstone4")
    return path


def run_counted(argv: list[str], *, watch: Watch = Watch(), cwd: Path | None = None,
                env: dict[str, str] | None = None, timeout: float = 3600, mode: str = "inline") -> CountedRun:
    """Runs argv (argv[0]: a static aarch64 binary) under qemu with the plugin; a non-zero exit is an error."""
    if mode not in ("inline", "atomic"):
        raise CostModelError(f"counting mode {mode!r}: use inline or atomic")
    with tempfile.TemporaryDirectory(prefix="edgevlm-armcost-") as tmp:
        out = Path(tmp) / "dump.txt"
        plugin = ",".join([str(plugin_path()), f"out={out}", f"mode={mode}", *watch.plugin_args()])
        cmd = [qemu_path(), "-cpu", CPU, "-plugin", plugin, *argv]
        if shutil.which("setarch"):
            cmd = ["setarch", os.uname().machine, "-R", *cmd]
        run_env = {"PATH": "/usr/bin:/bin", "LANG": "C", **(env or {})}
        try:
            proc = subprocess.run(cmd, cwd=cwd, env=run_env, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise CostModelError(f"{Path(argv[0]).name} under qemu did not finish in {timeout:.0f} s") from None
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise CostModelError(f"{Path(argv[0]).name} under qemu exited {proc.returncode}: {tail[:300]}")
        if not out.is_file():
            raise CostModelError("the counting plugin wrote no dump (did qemu load it?)")
        return CountedRun(parse_dump(out.read_text(encoding="ascii")), proc.stdout, proc.stderr)
