"""edgevlm's native LDP / LDPv2 kernel vs PyTorch vs stock llama.cpp's projector graph, side by side in one run.

    python -m benchmarks.ldp [--threads 2] [--reps 10] [--warmup 2] [--widths 2048,2560] [--versions v1,v2]

Per (width, version), in interleaved rounds so machine-load drift hits every side alike:
  * torch: edgevlm.reference.projector's module (f32 weights, torch.set_num_threads(threads), no_grad);
  * edgevlm f32, f16 and q8_0: edgevlm.native.LdpProjector (weights repacked once, outside the timing; q8_0 =
    Q8_0 Linear / pointwise matrices on the int8 GEMM, informational: issue 4 lists Q8_0 as optional);
  * stock f16: kernels/tests/bench_ldp_stock.cpp — the ggml ops tools/mtmd/models/llava.cpp builds for
    PROJECTOR_TYPE_LDP/LDPV2 at the pinned commit, on ggml's CPU backend with f16 matrices / conv kernels
    and f32 vectors (an f16 mmproj's types); one warm-up + one timed compute per round, in its own process.
Input: 576 x 1024 features (CLIP ViT-L/14-336), random weights (throughput does not depend on values).
Goals (issue 4): f32 LDPv2 ≥ 2x torch, f32 LDP v1 ≥ 1x torch, ≥ 3x stock's f16 graph, f16 faster still.
Results: benchmarks/results/ldp-host-t<threads>.{json,md} (medians, all raw samples, machine info).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# numpy's OpenBLAS threads busy-wait after a BLAS call; nothing timed here uses them, and spinning they would
# steal a core from whichever side runs next. Must be set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

from benchmarks.common import RESULTS, machine as base_machine

from edgevlm.checkpoint.config import se_channels
from edgevlm.errors import EdgeVLMError, NativeNotBuilt
from edgevlm.files import write_text
from edgevlm.native import LdpProjector, native_info
from edgevlm.native.ldp_random import random_ldp_weights
from edgevlm.paths import host_bin_dir
from edgevlm.progress import progress_bar

STOCK_BENCH = "edgevlm-bench-ldp-stock"
N_EMBD, TOKENS = 1024, 576
SIDES = ("torch", "edgevlm_f32", "edgevlm_f16", "edgevlm_q8_0", "stock_f16")
# Idle time before each timed side: torch's OpenMP workers keep spinning for a while after a parallel region
# (libgomp's spin count, KMP_BLOCKTIME), which would slow whichever side follows torch in a round.
SETTLE_S = 0.3


def _machine() -> dict:
    """benchmarks/convert.py's machine record plus the kernel's SIMD path and the load average."""
    import torch

    info = base_machine()
    info.update(native=native_info(), torch=torch.__version__, loadavg_start=os.getloadavg())
    return info


def _torch_runner(version: str, width: int, weights: dict, x: np.ndarray, threads: int):
    import torch

    from edgevlm.reference.projector import PROJECTOR_PREFIX, build_ldp_v1, build_ldp_v2

    torch.set_num_threads(threads)
    module = build_ldp_v1(N_EMBD, width, se_channels(width)) if version == "v1" else build_ldp_v2(N_EMBD, width)
    module.load_state_dict({k[len(PROJECTOR_PREFIX):]: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    module.eval()
    xt = torch.from_numpy(x)[None]

    def run() -> None:
        with torch.inference_mode():
            module(xt)
    return run


def _stock_runner(version: str, width: int, threads: int):
    exe = host_bin_dir() / STOCK_BENCH
    if not exe.is_file():
        raise NativeNotBuilt(f"{exe} does not exist",
                             hint=f"cmake --build build/host --target {STOCK_BENCH} (or `make native`)")
    cmd = [str(exe), "--version", version, "--width", str(width), "--n-embd", str(N_EMBD),
           "--threads", str(threads), "--reps", "1", "--warmup", "1", "--wtype", "f16"]

    def run() -> float:  # the process times its own compute (setup and random weights excluded)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return json.loads(out)["median_ms"]
    return run


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def bench_case(version: str, width: int, threads: int, reps: int, warmup: int, bar, task) -> dict:
    weights = random_ldp_weights(version, N_EMBD, width, seed=0)
    x = np.random.default_rng(1).standard_normal((TOKENS, N_EMBD)).astype(np.float32)
    ours = {dt: LdpProjector(weights, version, dt) for dt in ("f32", "f16", "q8_0")}
    runners = {"torch": lambda r=_torch_runner(version, width, weights, x, threads): _timed(r),
               "edgevlm_f32": lambda: _timed(lambda: ours["f32"].forward(x, threads)),
               "edgevlm_f16": lambda: _timed(lambda: ours["f16"].forward(x, threads)),
               "edgevlm_q8_0": lambda: _timed(lambda: ours["q8_0"].forward(x, threads)),
               "stock_f16": _stock_runner(version, width, threads)}
    samples: dict[str, list[float]] = {s: [] for s in SIDES}
    for rnd in range(warmup + reps):
        for side in SIDES:  # interleaved: each round times every side once
            time.sleep(SETTLE_S)
            ms = runners[side]()
            if rnd >= warmup:
                samples[side].append(round(ms, 3))
        bar.advance(task)
    med = {s: statistics.median(v) for s, v in samples.items()}
    return {"version": version, "width": width, "se_dim": se_channels(width) if version == "v1" else None,
            "median_ms": med, "samples_ms": samples,
            "speedup": {"f32_vs_torch": med["torch"] / med["edgevlm_f32"],
                        "f16_vs_torch": med["torch"] / med["edgevlm_f16"],
                        "f16_vs_stock_f16": med["stock_f16"] / med["edgevlm_f16"],
                        "f32_vs_stock_f16": med["stock_f16"] / med["edgevlm_f32"],
                        "f16_vs_f32": med["edgevlm_f32"] / med["edgevlm_f16"],
                        "q8_0_vs_stock_f16": med["stock_f16"] / med["edgevlm_q8_0"],
                        "q8_0_vs_f32": med["edgevlm_f32"] / med["edgevlm_q8_0"]}}


def goals(case: dict) -> dict[str, bool]:
    s = case["speedup"]
    torch_goal = 2.0 if case["version"] == "v2" else 1.0
    return {f"f32 >= {torch_goal:g}x torch": s["f32_vs_torch"] >= torch_goal,
            "f32 >= 3x stock f16": s["f32_vs_stock_f16"] >= 3.0,
            "f16 >= 3x stock f16": s["f16_vs_stock_f16"] >= 3.0,
            "f16 faster than f32": s["f16_vs_f32"] > 1.0}


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# LDP / LDPv2 projector: edgevlm vs torch vs stock llama.cpp ({res['threads']} threads)", "",
             f"Machine: {m['cpu']}, {m['cpus']} CPUs; edgevlm SIMD `{m['native']['simd']}`; torch {m['torch']}; "
             f"llama.cpp {m['llama_cpp_commit']}; load average at start {m['loadavg_start'][0]:.1f}, "
             f"end {res['loadavg_end'][0]:.1f}.",
             f"Input 576 x 1024, output 144 x W; median of {res['reps']} interleaved rounds (0.3 s idle before "
             f"each side) after {res['warmup']} warm-up. Torch runs f32 weights; stock runs an f16 mmproj's tensor types.", "",
             "| W | ver | torch ms | edgevlm f32 ms | edgevlm f16 ms | edgevlm q8_0 ms | stock f16 ms | f32/torch "
             "| f16/torch | f32/stock | f16/stock | q8_0/stock | f16/f32 | goals |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for c in res["cases"]:
        md, s = c["median_ms"], c["speedup"]
        verdict = ", ".join(f"{k}: {'met' if ok else 'MISSED'}" for k, ok in c["goals"].items())
        lines.append(f"| {c['width']} | {c['version']} | {md['torch']:.1f} | {md['edgevlm_f32']:.1f} | "
                     f"{md['edgevlm_f16']:.1f} | {md['edgevlm_q8_0']:.1f} | {md['stock_f16']:.1f} | "
                     f"{s['f32_vs_torch']:.2f}x | {s['f16_vs_torch']:.2f}x | {s['f32_vs_stock_f16']:.2f}x | "
                     f"{s['f16_vs_stock_f16']:.2f}x | {s['q8_0_vs_stock_f16']:.2f}x | {s['f16_vs_f32']:.2f}x | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--widths", default="2048,2560", help="LLM widths: 2048 = 1.7B, 2560 = 3B")
    ap.add_argument("--versions", default="v2,v1")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    widths, versions = [int(w) for w in a.widths.split(",")], a.versions.split(",")
    try:
        res = {"threads": a.threads, "reps": a.reps, "warmup": a.warmup, "machine": _machine(), "cases": []}
        with progress_bar() as bar:
            task = bar.add_task("LDP benchmark rounds", total=len(widths) * len(versions) * (a.reps + a.warmup))
            for width in widths:
                for version in versions:
                    case = bench_case(version, width, a.threads, a.reps, a.warmup, bar, task)
                    case["goals"] = goals(case)
                    res["cases"].append(case)
    except EdgeVLMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res["loadavg_end"] = os.getloadavg()
    a.out.mkdir(parents=True, exist_ok=True)
    stem = a.out / f"ldp-host-t{a.threads}"
    write_text(stem.with_suffix(".json"), json.dumps(res, indent=1) + "\n")
    write_text(stem.with_suffix(".md"), markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
