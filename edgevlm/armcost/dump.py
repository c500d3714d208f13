"""The plugin's output file (format in kernels/tools/qemu_cost/qemu_cost.c), parsed."""
from __future__ import annotations

from dataclasses import dataclass, field

from edgevlm.errors import CostModelError

MAGIC = "edgevlm-qemu-cost 1"


@dataclass(frozen=True)
class Block:
    pc: int
    n_insns: int
    code: bytes                   # the block's instruction bytes as executed
    execs: dict[int, int]         # stage -> times the block ran in it

    def insns(self, stage: int | None = None) -> int:
        runs = sum(self.execs.values()) if stage is None else self.execs.get(stage, 0)
        return runs * self.n_insns


@dataclass(frozen=True)
class CostDump:
    total: int                                  # the plugin's global counter
    vcpus: int                                  # guest threads seen
    stages: dict[int, tuple[int, int]]          # stage -> (instructions, times entered)
    blocks: list[Block] = field(default_factory=list)

    def stage_insns(self, stage: int) -> int:
        return self.stages.get(stage, (0, 0))[0]

    def entries(self, stage: int) -> int:
        return self.stages.get(stage, (0, 0))[1]


def parse_dump(text: str) -> CostDump:
    lines = text.splitlines()
    if not lines or lines[0] != MAGIC:
        raise CostModelError("not an edgevlm-qemu-cost dump (the plugin did not finish writing it?)")
    total = vcpus = -1
    stages: dict[int, tuple[int, int]] = {}
    blocks: list[Block] = []
    for line in lines[1:]:
        kind, _, rest = line.partition(" ")
        if kind == "total":
            total = int(rest)
        elif kind == "vcpus":
            vcpus = int(rest)
        elif kind == "stage":
            sid, insns, entries = rest.split()
            stages[int(sid)] = (int(insns), int(entries))
        elif kind == "block":
            blocks.append(_block(rest))
    if total < 0 or vcpus < 0:
        raise CostModelError("the cost dump has no total (truncated?)")
    return CostDump(total, vcpus, stages, blocks)


def _block(rest: str) -> Block:
    pc, n, code, runs = rest.split()
    execs = {}
    for item in runs.split(","):
        stage, count = item.split(":")
        execs[int(stage)] = int(count)
    return Block(int(pc, 16), int(n), b"" if code == "-" else bytes.fromhex(code), execs)


def without_stages(dump: CostDump, stages: set[int]) -> CostDump:
    """The dump as if STAGES had not run: their executions taken out of every block (a block left with none is
    dropped), their counts out of the stages and the total. The cycle model (cycles.build_model) picks its blocks
    and its fallback rate over every execution in the dump, so a stage whose count moves from run to run
    (edgevlm-run's FINISH formats the host's memory figures: a few hundred instructions more or less) would move
    the estimated cycles of every other stage too, by ~1e-8; without it they repeat exactly."""
    blocks = []
    for b in dump.blocks:
        execs = {s: n for s, n in b.execs.items() if s not in stages}
        if execs:
            blocks.append(Block(b.pc, b.n_insns, b.code, execs))
    removed = sum(insns for s, (insns, _) in dump.stages.items() if s in stages)
    kept = {s: v for s, v in dump.stages.items() if s not in stages}
    return CostDump(dump.total - removed, dump.vcpus, kept, blocks)
