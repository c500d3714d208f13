"""Estimated cycles per executed block on a Cortex-X1 and a Cortex-A78, from llvm-mca.

Method: every block that ran is disassembled from the static binary (llvm-objdump, ARMv8.2 + dotprod + fp16, so
the dot-product and fp16 encodings that Debian's capstone 4 leaves undecoded are decoded), handed to llvm-mca
as a code region of its own, and charged llvm-mca's steady-state cycles per iteration (Total Cycles /
iterations) times the times it ran. Blocks are taken hottest first until COVERAGE of the executed instructions
is covered; the rest are charged the covered blocks' mean cycles per instruction. Instructions a model has no
scheduling data for (LSE atomics such as casa) are left out of their block's estimate.
CPU models: LLVM (14 and 19) schedules `cortex-x1` and `cortex-a78` with its Cortex-A57 model (checked: the
same cycles for both). The Neoverse cores are the server versions of these designs and have models of their
own: Neoverse-V1 (from Cortex-X1: 4 ASIMD pipes) stands for the X1, Neoverse-N1 (from Cortex-A76, the A78's
predecessor with the same 2 ASIMD pipes, 4-wide decode) for the A78. Caches and memory are not modelled
(every load hits L1): decode's bandwidth bound is computed apart (bytes read per token).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from edgevlm.armcost.dump import CostDump
from edgevlm.errors import CostModelError

LLVM_VERSIONS = ("19", "22")    # the first with a Neoverse-V1 model found on PATH wins (Debian: llvm-19)
CPUS = {"cortex-x1": "neoverse-v1", "cortex-a78": "neoverse-n1"}
MATTR = "+v8.2a,+dotprod,+fullfp16,+rcpc"   # the Snapdragon 888's ISA: v8.2 brings LSE atomics (cas, ldadd)
ITERATIONS = 100
COVERAGE = 0.998
MAX_REGIONS = 6000

_INSN_LINE = re.compile(r"^\s+([0-9a-f]+):\s*(.*)$", re.M)
_ADDR_OPERAND = re.compile(r"(,\s*|\s+)0x[0-9a-f]+$")


@dataclass(frozen=True)
class CycleModel:
    cycles: dict[str, dict[int, float]]    # cpu -> block pc -> cycles per execution
    fallback_cpi: dict[str, float]         # cpu -> cycles per instruction for blocks outside the coverage
    llvm: str

    def block_cycles(self, cpu: str, pc: int, n_insns: int) -> float:
        c = self.cycles[cpu].get(pc)
        return c if c is not None else self.fallback_cpi[cpu] * n_insns


def llvm_tool(name: str) -> str:
    for v in LLVM_VERSIONS:
        path = Path(f"/usr/lib/llvm-{v}/bin/{name}")
        if path.is_file():
            return str(path)
        if shutil.which(f"{name}-{v}"):
            return shutil.which(f"{name}-{v}")
    raise CostModelError(f"{name} of LLVM {' or '.join(LLVM_VERSIONS)} not found (LLVM 14 has no Neoverse-V1 model)",
                         hint="apt-get install llvm-19")


@lru_cache(maxsize=4)
def disassembly(binary: Path) -> dict[int, str]:
    """pc -> instruction text of every instruction in the binary's executable sections."""
    proc = subprocess.run([llvm_tool("llvm-objdump"), "-d", "--no-show-raw-insn", f"--mattr={MATTR}",
                           str(binary)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CostModelError(f"llvm-objdump could not read {binary}: {proc.stderr.strip()[:200]}")
    out = {}
    for m in _INSN_LINE.finditer(proc.stdout):
        out[int(m.group(1), 16)] = m.group(2).split("//")[0].split(" <")[0].strip()
    return out


def _mca_line(text: str) -> str | None:
    """The instruction as llvm-mca's assembler accepts it (absolute branch / literal targets become `.`)."""
    if not text or text.startswith(("<unknown>", ".inst", ".word", "udf")):
        return None
    line = _ADDR_OPERAND.sub(lambda m: m.group(1) + ".", text.replace("\t", " "))
    # llvm-mca charges a call 100 cycles of latency ("not correctly modeled"); as a branch it costs what a
    # taken branch costs, which is what a call is to the core (the callee's blocks are counted on their own)
    if line.startswith("bl "):
        return "b ."
    if line.startswith("blr "):
        return "br " + line[4:]
    return line


def build_model(dump: CostDump, binary: Path) -> CycleModel:
    asm = disassembly(binary)
    runs: dict[int, tuple[int, int]] = {}  # pc -> (n_insns, executions)
    for b in dump.blocks:
        n, e = runs.get(b.pc, (b.n_insns, 0))
        runs[b.pc] = (b.n_insns, e + sum(b.execs.values()))
    hot = sorted(runs.items(), key=lambda kv: -kv[1][0] * kv[1][1])
    total = sum(n * e for n, e in runs.values()) or 1
    chosen, covered = [], 0
    for pc, (n, e) in hot:
        if covered >= COVERAGE * total or len(chosen) >= MAX_REGIONS:
            break
        lines = [_mca_line(asm.get(pc + 4 * i, "")) for i in range(n)]
        lines = [ln for ln in lines if ln]
        if lines:
            chosen.append((pc, lines))
            covered += n * e
    cycles, fallback = {}, {}
    for cpu, model in CPUS.items():
        per_block = _run_mca(model, chosen)
        cycles[cpu] = per_block
        c_sum = sum(per_block[pc] * runs[pc][1] for pc in per_block)
        i_sum = sum(runs[pc][0] * runs[pc][1] for pc in per_block) or 1
        fallback[cpu] = c_sum / i_sum
    return CycleModel(cycles, fallback, Path(llvm_tool("llvm-mca")).parts[-3])


def _run_mca(model: str, blocks: list[tuple[int, list[str]]]) -> dict[int, float]:
    src = []
    for pc, lines in blocks:
        src += [f"# LLVM-MCA-BEGIN b{pc:x}", *lines, "# LLVM-MCA-END"]
    proc = subprocess.run([llvm_tool("llvm-mca"), "-mtriple=aarch64", f"-mcpu={model}", f"-mattr={MATTR}",
                           f"-iterations={ITERATIONS}", "-skip-unsupported-instructions=lack-sched",
                           "-summary-view", "-resource-pressure=0",
                           "-instruction-info=0"], input="\n".join(src) + "\n", capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise CostModelError(f"llvm-mca failed for {model}: {proc.stderr.strip()[:300]}")
    out, current = {}, None
    for line in proc.stdout.splitlines():
        if "Code Region - b" in line:
            current = int(line.rsplit(" b", 1)[1], 16)
        elif line.startswith("Total Cycles:") and current is not None:
            out[current] = int(line.split(":")[1]) / ITERATIONS
            current = None
    missing = len(blocks) - len(out)
    if missing:
        raise CostModelError(f"llvm-mca gave no estimate for {missing} of {len(blocks)} blocks")
    return out
