"""One program of the arm64 bundle measured: instructions and estimated cycles per stage, where they go.

edgevlm-run marks its stages itself (edgevlm_stage.h). The stock tools have no markers: their stages begin
where they enter the llama.cpp / mtmd functions below (the same stage ids, so tables line up).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from edgevlm.armcost.attribute import by_function, by_group
from edgevlm.armcost.cycles import CPUS, build_model
from edgevlm.armcost.dump import without_stages
from edgevlm.armcost.qemu import CountedRun, Watch, entry_watch, marker_watch, run_counted
from edgevlm.armcost.stages import stage_ids, stage_names
from edgevlm.armcost.symbols import read_symbols


def stock_entries(tool: str) -> dict[str, int]:
    """Function entry -> stage, for llama-mtmd-cli and llama-bench (both sequential at 1 thread)."""
    s = stage_ids()
    if tool == "llama-mtmd-cli":
        return {"llama_model_load_from_file": s["llm_load"], "llama_init_from_model": s["context"],
                "mtmd_init_from_file": s["vision_load"], "mtmd_helper_eval_chunks": s["prefill"],
                "clip_image_batch_encode": s["vit"], "mtmd_helper_decode_image_chunk": s["prefill"],
                "common_sampler_sample": s["decode"], "llama_perf_context_print": s["finish"]}
    if tool == "llama-bench":
        # this pin's llama-bench evaluates through llama_process (the batch_ext API), never llama_decode;
        # both of its tests book there: the caller tells the prompt run from the generation run
        return {"llama_model_load_from_file": s["llm_load"], "llama_init_from_model": s["context"],
                "llama_process": s["prefill"], "llama_free": s["finish"]}
    raise ValueError(f"no stage entries for {tool}")


@dataclass(frozen=True)
class StageCost:
    insns: int
    entries: int
    cycles: dict[str, float]          # cpu -> estimated cycles
    groups: dict[str, int]            # function group -> instructions
    top: list[tuple[str, int]]        # hottest functions


@dataclass(frozen=True)
class Measured:
    program: str
    total: int
    vcpus: int
    stages: dict[str, StageCost]
    llvm: str

    def to_dict(self) -> dict:
        return {"program": self.program, "total_insns": self.total, "vcpus": self.vcpus, "llvm": self.llvm,
                "stages": {k: {"insns": v.insns, "entries": v.entries, "cycles": v.cycles, "groups": v.groups,
                               "top": v.top} for k, v in self.stages.items()}}


def measure(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, watch: Watch | None = None,
            top: int = 8, cycles: bool = True) -> Measured:
    """Runs argv under qemu with the plugin; argv[0] is a static aarch64 binary of the bundle."""
    binary = Path(argv[0])
    marked = binary.name == "edgevlm-run"
    # the stock tools log from a second thread (llama.cpp's async logger): inline counters would race there
    run = run_counted(argv, watch=watch or default_watch(binary), cwd=cwd, env=env,
                      mode="inline" if marked else "atomic")
    return summarise(run, binary, top, cycles)


def default_watch(binary: Path) -> Watch:
    """edgevlm-run books its stages through its markers; a stock tool by its entries into llama.cpp / mtmd."""
    if binary.name == "edgevlm-run":
        return marker_watch(binary)
    return entry_watch(binary, stock_entries(binary.name))


def summarise(run: CountedRun, binary: Path, top: int = 8, cycles: bool = True) -> Measured:
    dump = run.dump
    syms = read_symbols(binary)
    # the cycle model (its blocks, its fallback rate) is built over every stage but FINISH: that stage formats the
    # host's memory figures, a few hundred instructions more or less from run to run, which would move every
    # other stage's estimated cycles (~1e-8); FINISH keeps its instruction count
    model = build_model(without_stages(dump, {stage_ids()["finish"]}), binary) if cycles else None
    names = stage_names()
    stages = {}
    for sid, (insns, entries) in sorted(dump.stages.items()):
        funcs = by_function(dump, syms, sid)
        cyc = {}
        if model:
            for cpu in CPUS:
                cyc[cpu] = sum(model.block_cycles(cpu, b.pc, b.n_insns) * b.execs.get(sid, 0) for b in dump.blocks
                               if b.execs.get(sid))
        stages[names.get(sid, str(sid))] = StageCost(insns, entries, cyc, dict(by_group(funcs).most_common()),
                                                     Counter(funcs).most_common(top))
    return Measured(binary.name, dump.total, dump.vcpus, stages, model.llvm if model else "")
