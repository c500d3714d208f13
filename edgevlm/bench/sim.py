"""`edgevlm bench --device arm64-sim MODEL_DIR`: the android-arm64 bundle's edgevlm-run under qemu-user with the
counting plugin, on this host (profiles with transport "sim", devices/arm64-sim.toml).

One run is the whole evidence: the counts are deterministic (edgevlm.armcost), so there is no warm-up and no
repetition, and `edgevlm report` judges these metrics from one run a side (report.stats.judge_exact). Stored
metrics: executed instructions and estimated Cortex-X1 / A78 cycles per stage (store.metrics.ARM_STAGES; prefill
and decode per token; total = every stage but the last, which writes the host's memory peaks into the JSON
record: formatting those numbers costs a few hundred instructions more or less from run to run; the cycle model
leaves it out too, edgevlm.armcost.measure.summarise), 1 thread, the LLM load not overlapped with the vision
stages.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from edgevlm.armcost.cycles import llvm_tool
from edgevlm.armcost.measure import Measured, measure
from edgevlm.armcost.qemu import plugin_path, qemu_path
from edgevlm.armcost.symbols import NM
from edgevlm.artifact import find_model
from edgevlm.bench.image import resolve_image
from edgevlm.bench.options import run_argv
from edgevlm.bench.request import DeviceRequest
from edgevlm.bench.runner import BenchResult, BenchSpec, model_summary, workload_label
from edgevlm.device.profiles import DeviceProfile
from edgevlm.errors import EdgeVLMError, NativeNotBuilt
from edgevlm.fingerprint import build_fields, git_state
from edgevlm.store.metrics import ARM_STAGES, arm_metric_name
from edgevlm.store.record import RunRecord
from edgevlm.toolchain.bundle import Bundle, bundle_from_dir, ensure_bundle

TRANSPORT = "sim"
MEM_AVAILABLE = 16 * 2**30   # fixed: the host's MemAvailable varies, and so would its parse's count
PER_TOKEN = {"prefill", "decode"}     # stored per token, so a workload's length does not move them


def bench_sim(req: DeviceRequest, spec: BenchSpec, profile: DeviceProfile, *, progress=None) -> BenchResult:
    model = find_model(req.model_dir, req.quant)
    image = resolve_image(req.image, req.no_image, model, req.model_dir)
    bundle = sim_bundle(req, profile, progress)
    with tempfile.TemporaryDirectory(prefix="edgevlm-sim-") as tmp:
        run = Path(tmp)
        names = {"model.gguf": model.llm}
        if image is not None:
            names.update({"mmproj.gguf": model.mmproj, "image.png": image})
        for name, path in names.items():
            os.symlink(Path(path).resolve(), run / name)
        argv = run_argv(str(bundle.path / "edgevlm-run"), model="model.gguf",
                        mmproj="mmproj.gguf" if image else None, image="image.png" if image else None,
                        prompt=spec.question(image is not None), prompt_tokens=spec.prompt_tokens or None,
                        n_predict=spec.gen, ignore_eos=True, threads=1, no_stream=True, off="overlap",
                        mem_available=MEM_AVAILABLE,
                        json="run.json")
        measured = measure(argv, cwd=run, top=5)
        raw = json.loads((run / "run.json").read_text(encoding="utf-8"))
    return BenchResult(records=[_record(spec, profile, bundle, model, measured, raw)])


def sim_bundle(req: DeviceRequest, profile: DeviceProfile, progress=None) -> Bundle:
    """The bundle a request names (a lab cell's payload, --bundle-dir), else this checkout's build."""
    bundle = req.bundle or (bundle_from_dir(req.bundle_dir) if req.bundle_dir else None) or \
        ensure_bundle(profile.target, progress)
    if not bundle.has("edgevlm-run"):
        raise NativeNotBuilt(f"the bundle at {bundle.path} has no edgevlm-run",
                             hint=f"edgevlm build --target {profile.target}")
    return bundle


def sim_problems() -> list[str]:
    """Why this host cannot count (empty: it can): qemu-user, the plugin, nm and LLVM's tools. What a lab node
    checks before it advertises an arm64-sim device, in place of a device preflight (nothing to read: the
    "device" is qemu on this host, and the bundle comes with each cell)."""
    problems = [] if shutil.which(NM) else [f"{NM} not found (apt-get install binutils-aarch64-linux-gnu)"]
    for check in (qemu_path, plugin_path, lambda: llvm_tool("llvm-mca"), lambda: llvm_tool("llvm-objdump")):
        try:
            check()
        except EdgeVLMError as exc:
            problems.append(str(exc).splitlines()[0])
    return problems


def metrics(m: Measured, prompt_tokens: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for stage in ARM_STAGES:
        cost = m.stages.get(stage)
        if stage == "total":   # all but FINISH, which formats the host's memory figures into the JSON record
            kept = [s for name, s in m.stages.items() if name != "finish"]
            values = {"insns": sum(s.insns for s in kept),
                      "x1_cycles": sum(s.cycles.get("cortex-x1", 0.0) for s in kept),
                      "a78_cycles": sum(s.cycles.get("cortex-a78", 0.0) for s in kept)}
        elif cost is None:
            continue
        else:
            per = (prompt_tokens if stage == "prefill" else max(cost.entries, 1)) if stage in PER_TOKEN else 1
            values = {"insns": cost.insns / per, "x1_cycles": cost.cycles["cortex-x1"] / per,
                      "a78_cycles": cost.cycles["cortex-a78"] / per}
        out.update({arm_metric_name(k, stage): [float(v)] for k, v in values.items()})
    return out


def _record(spec, profile, bundle, model, m: Measured, raw: dict) -> RunRecord:
    commit, branch = git_state()
    return RunRecord(device_name=profile.name, model_name=model.name, quant=model.quant,
                     samples=metrics(m, int(raw["prompt_tokens"])), commit=commit, branch=branch,
                     device_fingerprint={"model": "qemu-aarch64 -cpu cortex-a76", "soc": "arm64-sim",
                                         "cpu_features": "asimddp fphp asimdhp", "cpu_model": m.llvm,
                                         "cores_online": "0", "cpu_mask": "", "governor": "", "os": "qemu-user",
                                         "kernel": ""},
                     build_flags=build_fields(bundle.info), llama_cpp_commit=bundle.info.get("llama_cpp_commit", ""),
                     model_hashes=model.hashes(), threads=1, partial=False,
                     workload=workload_label(int(raw.get("image_tokens", 0)), int(raw["prompt_tokens"]),
                                             int(raw["gen_tokens"])),
                     extra={"transport": "sim: qemu-aarch64 + libedgevlm-qemu-cost.so", "model": model_summary(model),
                            "cost": m.to_dict()})
