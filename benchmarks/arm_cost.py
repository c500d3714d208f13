"""The arm64 cost model of every stage: the android-arm64 bundle counted under qemu-user (edgevlm.armcost).

    python benchmarks/arm_cost.py            # full: real ViT-L/14-336 and V2-1.7B LLM widths, a few layers, scaled
    python benchmarks/arm_cost.py --quick    # the tiny synthetic model (minutes; what the tests' workload is)
    python benchmarks/arm_cost.py --reuse benchmarks/results/arm-cost.json   # take the runs counted there

Method (deterministic: the same bundle and inputs give the same counts on any host, at any load):
* Every program runs at 1 thread under `qemu-aarch64 -cpu cortex-a76` with edgevlm's TCG plugin, which counts
  the executed instructions of every translated block exactly. edgevlm-run marks its stages (edgevlm_stage.h);
  llama-mtmd-cli's stages begin at its entries into llama.cpp / mtmd functions (edgevlm.armcost.measure).
  edgevlm-run runs with `--off overlap` (the LLM load on its own thread would run beside the vision stages)
  and its memory sampler is event-driven (no timer thread: kernels/runtime/memory.h).
* Cycles: each block weighted with llvm-mca's estimate for the Cortex-X1 and the Cortex-A78
  (edgevlm.armcost.cycles: Neoverse-V1 / -N1 models, caches not modelled).
* Real widths, few layers, scaled: the ViT (1024 wide, 16 heads, 577 positions) with 2 and 3 layers stored
  (1 and 2 run): per layer = the difference, so 23 layers = fixed part + 23 x per layer exactly; the LLM at
  V2-1.7B widths (2048, 16 heads, FFN 5632, vocab 32000) with 2 and 4 layers: per layer = half the difference,
  24 layers likewise. The stock tool and edgevlm run the same llama.cpp LLM code; both LLM figures come from
  edgevlm-run's text-only runs (its stages are exact), checked against stock's prefill in the image runs.
* Stock llama-bench (the bundle's) at the same LLM files and depths, per quant: one run with `-p N -n 0` (its
  prompt test) and one with `-p 0 -n M` (its generation test), `-r 1 --no-warmup -t 1`; stages by its entries
  (edgevlm.armcost.measure.stock_entries): every llama_decode books to "prefill", so prefill per token = that
  stage of the prompt run / N, decode per token = that stage of the generation run / M (entries = M, checked),
  scaled to 24 layers like edgevlm-run's. Its prompt is shorter (N = 64 vs 246) and its generation starts at
  an empty context (edgevlm-run decodes after the prompt): the attention part differs, the matrices do not.
* Snapdragon 888 (1 X1 at 2.84 GHz + 3 A78 at 2.42 GHz, 4 threads): a parallel stage's work is shared by the
  four cores at their rates (clock / estimated cycles per unit of work: ggml hands out matmul chunks
  dynamically); loads and setup run on the X1 alone. Decode also as a share of the 51.2 GB/s LPDDR5 bound from
  the bytes a token reads (the LLM file less its token embeddings). Predicted beside the published SD888
  figures (edgevlm.bench.published), not tuned to them. With a memory term (edgevlm.armcost.memory): per
  stage, the bytes that must come from DRAM over a sustained bandwidth, time = max(compute, memory).
* --reuse FILE: runs of an earlier results file count as already counted when they came from a bundle of the
  same llama.cpp commit and build flags; one of them (the first LLM text run) is counted again and must match
  per stage within 1e-6 or 4096 instructions (a checkout's path length), or nothing is reused. edgevlm's own
  vision runs are never reused.
Results: benchmarks/results/arm-cost[-quick].{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks.common import REPO, RESULTS
from edgevlm.armcost import memory
from edgevlm.armcost.measure import measure
from edgevlm.bench.published import PUBLISHED
from edgevlm.store.metrics import DECODE_TPS, IMAGE_ENCODE_MS, PROMPT_TPS

X1_HZ, A78_HZ, N_A78 = 2.84e9, 2.42e9, 3
PAPER = {"prompt_tokens": 246, "image_tokens": 144, "generated": 128}
VIT_LAYERS = 23            # MobileVLM runs 23 of CLIP's 24 layers; so does stock on edgevlm's 24-layer file
LLM_LAYERS = 24
QUESTION = "What is in the image?"
MEM_AVAILABLE = "16000000000"   # fixed: edgevlm-run would read the host's MemAvailable (varying digits)

FULL = {"vit_stored": (2, 3), "llm_layers": (2, 4), "llm_quants": ("q4_0", "q4_k_s", "q4_k_m", "q8_0"),
        "mmproj": ("f16", "q8_0"), "text_prompt": 246, "text_gen": 8, "image_llm_quant": "q4_k_s",
        "bench_prompt": 64, "bench_gen": 4}
QUICK = {"vit_stored": (2, 3), "llm_layers": (2, 4), "llm_quants": ("q4_0", "q8_0"), "mmproj": ("f16", "q8_0"),
         "text_prompt": 64, "text_gen": 4, "image_llm_quant": "q4_0", "bench_prompt": 32, "bench_gen": 4}
SHAPES = {"full": {"vit_width": 1024, "vit_ffn": 4096, "llm_width": 2048},
          "quick": {"vit_width": 64, "vit_ffn": 256, "llm_width": 256}}
POSITIONS = 577          # ViT-L/14-336: 24 x 24 patches + the class token


# ---------------------------------------------------------------- models

def vision_config(layers: int, tiny: bool) -> dict:
    width = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 256, "projection_dim": 64} if tiny \
        else {"hidden_size": 1024, "num_attention_heads": 16, "intermediate_size": 4096, "projection_dim": 768}
    return {**width, "num_hidden_layers": layers, "image_size": 336, "patch_size": 14, "layer_norm_eps": 1e-5,
            "hidden_act": "quick_gelu", "model_type": "clip_vision_model"}


def checkpoint(work: Path, llm_layers: int, vit_layers: int | None, tiny: bool) -> Path:
    from edgevlm.checkpoint.synth import synthesize

    name = f"ckpt-{'tiny' if tiny else 'v2'}-l{llm_layers}" + (f"-v{vit_layers}" if vit_layers else "-text")
    folder = work / name
    if not (folder / "config.json").is_file():
        overrides = {"num_hidden_layers": llm_layers}
        if vit_layers:
            overrides["vision_config"] = vision_config(vit_layers, tiny)
        synthesize("tiny-v2" if tiny else "mobilevlm-v2-1.7b", folder, "safetensors", 0, vit_layers is None,
                   overrides=overrides, progress=False)
    return folder


def converted(work: Path, ckpt: Path, quant: str, mmproj: str) -> tuple[Path, Path | None]:
    from edgevlm.convert import convert

    folder = work / f"{ckpt.name}-{quant}-{mmproj}"
    if not (folder / "manifest.json").is_file():
        convert(ckpt, folder, quant=quant, mmproj_quant=mmproj)
    ggufs = sorted(folder.glob("*.gguf"))
    mm = [p for p in ggufs if p.name.startswith("mmproj")]
    llm = next(p for p in ggufs if not p.name.startswith("mmproj"))
    return llm, (mm[0] if mm else None)


def stage_dir(work: Path, files: dict[str, Path]) -> Path:
    """A fixed folder with fixed names: argv and paths are the same in every run (string lengths count)."""
    run = work / "run"
    run.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(run):
        (run / name).unlink()
    for name, path in files.items():
        (run / name).symlink_to(path.resolve())
    return run


# ---------------------------------------------------------------- runs

def bundle_dir() -> Path:
    from edgevlm.toolchain.bundle import load_bundle

    bundle = load_bundle("android-arm64")
    if bundle is None:
        raise SystemExit("error: the android-arm64 bundle is not built: edgevlm build --target android-arm64")
    return bundle.path


def edgevlm_argv(threads: int, gen: int, prompt_tokens: int | None = None) -> list[str]:
    """edgevlm-run in a stage_dir: model.gguf with mmproj.gguf + image.png, or text only with PROMPT_TOKENS."""
    args = [str(bundle_dir() / "edgevlm-run"), "-m", "model.gguf", "-t", str(threads), "-n", str(gen),
            "--ignore-eos", "--no-stream", "--off", "overlap", "--mem-available", MEM_AVAILABLE]
    if prompt_tokens is None:
        return args + ["--mmproj", "mmproj.gguf", "--image", "image.png", "-p", QUESTION]
    return args + ["-p", QUESTION, "--prompt-tokens", str(prompt_tokens)]


def mtmd_argv(threads: int, gen: int) -> list[str]:
    """Stock llama-mtmd-cli in a stage_dir, on the same files and question as edgevlm_argv's image run."""
    return [str(bundle_dir() / "llama-mtmd-cli"), "-m", "model.gguf", "--mmproj", "mmproj.gguf", "--image",
            "image.png", "-p", QUESTION, "-t", str(threads), "-n", str(gen), "--temp", "0", "--ignore-eos",
            "--no-warmup"]


def run_edgevlm(work: Path, llm: Path, mmproj: Path | None, image: Path | None, prompt_tokens: int, gen: int):
    if mmproj:
        files = {"model.gguf": llm, "mmproj.gguf": mmproj, "image.png": image}
        return measure(edgevlm_argv(1, gen), cwd=stage_dir(work, files))
    return measure(edgevlm_argv(1, gen, prompt_tokens), cwd=stage_dir(work, {"model.gguf": llm}))


def run_mtmd(work: Path, llm: Path, mmproj: Path, image: Path, gen: int):
    files = {"model.gguf": llm, "mmproj.gguf": mmproj, "image.png": image}
    return measure(mtmd_argv(1, gen), cwd=stage_dir(work, files))


def run_llama_bench(work: Path, llm: Path, n_prompt: int, n_gen: int):
    """Stock llama-bench's prompt test (n_gen 0) or generation test (n_prompt 0), once, no warm-up."""
    args = [str(bundle_dir() / "llama-bench"), "-m", "model.gguf", "-p", str(n_prompt), "-n", str(n_gen),
            "-t", "1", "-r", "1", "--no-warmup", "-o", "md"]
    return measure(args, cwd=stage_dir(work, {"model.gguf": llm}))


CACHED_ONLY = False   # --cached-only: report the runs already counted, count nothing new
REUSED: dict[str, dict] = {}   # --reuse: runs of an earlier results file, by name (checked in reuse_runs)


def cached(work: Path, name: str, run) -> dict:
    """A run's summary, kept under WORK/runs/ per bundle (its build-info hash): a rerun after a change to the
    model below costs nothing, and a changed bundle is counted again."""
    import hashlib

    if name in REUSED:
        return REUSED[name]
    tag = hashlib.sha256((bundle_dir() / "build-info.json").read_bytes()).hexdigest()[:12]
    for tool in ("edgevlm-run", "llama-mtmd-cli", "llama-bench"):
        st = (bundle_dir() / tool).stat()
        tag += f"-{st.st_size}-{int(st.st_mtime)}"
    path = work / "runs" / tag / (name.replace("/", "_") + ".json")
    if path.is_file():
        return json.loads(path.read_text())
    if CACHED_ONLY:
        return None
    result = run().to_dict()
    write(path, json.dumps(result))
    return result


# per stage, relative or absolute: argv paths differ in length between checkouts (strlen, memcpy, path joins), a
# fixed few hundred instructions whatever the stage's size (measured: 341 in the 4.7 M `context` stage)
REUSE_TOLERANCE = 1e-6
REUSE_SLACK_INSNS = 4096
SAME_BUILD = ("llama_cpp_commit", "cmake_defs", "cxx_flags", "build_type", "target")


def reuse_runs(path: Path, work: Path, cfg: dict, bundle: dict) -> dict:
    """Take an earlier results file's runs as counted, if its bundle was built alike and one run, counted again
    now, matches it per stage within REUSE_TOLERANCE. Returns what was done, for the results file."""
    old = json.loads(path.read_text())
    info = {"from": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path), "reused": []}
    differs = [k for k in SAME_BUILD if old["machine"]["bundle"].get(k) != bundle.get(k)]
    if differs or old["config"].get("text_prompt") != cfg["text_prompt"]:
        info["refused"] = f"different build or workload: {', '.join(differs) or 'text_prompt'}"
        return info
    q, nl = cfg["llm_quants"][0], cfg["llm_layers"][0]
    name = f"llm/{q}/l{nl}"
    llm, _ = converted(work, checkpoint(work, nl, None, cfg["shapes"]["vit_width"] < 1024), q, "f16")
    now = cached(work, name, lambda: run_edgevlm(work, llm, None, None, cfg["text_prompt"], cfg["text_gen"]))
    then = old["runs"][name]["stages"]
    diffs = {st: abs(now["stages"][st]["insns"] - then[st]["insns"]) for st in then if st in now["stages"]}
    worst = max(d / max(then[st]["insns"], 1) for st, d in diffs.items())
    info.update(checked=name, max_relative_difference=worst, max_absolute_difference=max(diffs.values()))
    beyond = [st for st, d in diffs.items() if d > max(REUSE_TOLERANCE * then[st]["insns"], REUSE_SLACK_INSNS)]
    if set(then) != set(now["stages"]) or beyond:
        info["refused"] = (f"{name} counted again differs in {', '.join(beyond) or 'its stages'} by more than "
                           f"{REUSE_TOLERANCE:g} relative and {REUSE_SLACK_INSNS} instructions")
        return info
    # edgevlm's own vision runs are always counted with this bundle: its kernels are what changes between
    # commits (a word-wise q8 repack once cut vision_load by 0.16 G without touching llama.cpp)
    REUSED.update({k: v for k, v in old["runs"].items() if k != name and not k.startswith("edgevlm/")})
    info["reused"] = sorted(REUSED)
    return info


# ---------------------------------------------------------------- scaling and prediction

def per_layer(lo: dict, hi: dict, n_lo: int, n_hi: int, stage: str, target: int) -> dict:
    """Instructions and cycles of `stage` at `target` layers from runs at n_lo and n_hi layers (linear)."""
    out = {}
    for key in ("insns", "cycles_cortex-x1", "cycles_cortex-a78"):
        a, b = _get(lo, stage, key), _get(hi, stage, key)
        layer = (b - a) / (n_hi - n_lo)
        out[key] = a + (target - n_lo) * layer
        out[key + "_per_layer"] = layer
    return out


def _get(m: dict, stage: str, key: str) -> float:
    s = m["stages"].get(stage)
    if not s:
        return 0.0
    return float(s["insns"]) if key == "insns" else float(s["cycles"][key.removeprefix("cycles_")])


def seconds(cost: dict, parallel: bool) -> float:
    """SD888 time of a cost: 4 threads sharing the work at each core's rate, or the X1 alone."""
    x1, a78 = cost["cycles_cortex-x1"], cost["cycles_cortex-a78"]
    if x1 <= 0:
        return 0.0
    if not parallel:
        return x1 / X1_HZ
    return 1.0 / (X1_HZ / x1 + N_A78 * A78_HZ / a78)


def scale(cost: dict, k: float) -> dict:
    return {key: v * k for key, v in cost.items()}


# ---------------------------------------------------------------- the benchmark

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "arm-cost")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--cached-only", action="store_true", help="write results from the runs already counted")
    ap.add_argument("--reuse", type=Path, help="an earlier results JSON whose runs count as counted (checked)")
    a = ap.parse_args()
    global CACHED_ONLY
    CACHED_ONLY = a.cached_only
    cfg = {**(QUICK if a.quick else FULL), "shapes": SHAPES["quick" if a.quick else "full"]}
    tiny = a.quick
    work = a.work / ("quick" if a.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    from edgevlm.images import make_demo_image

    image = work / "image.png"
    if not image.is_file():
        make_demo_image(image)
    t0 = time.time()
    res = {"mode": "quick" if a.quick else "full", "config": cfg, "machine": machine(), "runs": {}}
    if a.reuse:
        res["reused"] = reuse_runs(a.reuse, work, cfg, res["machine"]["bundle"])

    # vision: both tools, both mmproj types, two ViT depths (the LLM: 2 layers, it is not what is measured here)
    files = {}
    for vs in cfg["vit_stored"]:
        ckpt = checkpoint(work, 2, vs, tiny)
        for mm in cfg["mmproj"]:
            llm, mmproj = converted(work, ckpt, cfg["image_llm_quant"], mm)
            files[("mmproj", mm, vs)] = mmproj
            for side, fn in (("edgevlm", lambda: run_edgevlm(work, llm, mmproj, image, 0, 1)),
                             ("stock", lambda: run_mtmd(work, llm, mmproj, image, 1))):
                res["runs"][f"{side}/{mm}/vit{vs}"] = cached(work, f"{side}/{mm}/vit{vs}", fn)
            print(f"vision {mm} {vs} layers stored: done ({time.time() - t0:.0f} s)", flush=True)
    # LLM: text-only edgevlm-run per quant at two depths
    for nl in cfg["llm_layers"]:
        ckpt = checkpoint(work, nl, None, tiny)
        for q in cfg["llm_quants"]:
            llm, _ = converted(work, ckpt, q, "f16")
            files[("llm", q, nl)] = llm
            res["runs"][f"llm/{q}/l{nl}"] = cached(work, f"llm/{q}/l{nl}", lambda: run_edgevlm(
                work, llm, None, None, cfg["text_prompt"], cfg["text_gen"]))
            print(f"llm {q} {nl} layers: done ({time.time() - t0:.0f} s)", flush=True)
    # stock llama-bench on the same LLM files: its prompt test and its generation test, apart
    for nl in cfg["llm_layers"]:
        for q in cfg["llm_quants"]:
            for kind, n_p, n_g in (("pp", cfg["bench_prompt"], 0), ("tg", 0, cfg["bench_gen"])):
                key = f"bench/{q}/l{nl}/{kind}"
                res["runs"][key] = cached(work, key, lambda: run_llama_bench(work, files[("llm", q, nl)], n_p, n_g))
            print(f"llama-bench {q} {nl} layers: done ({time.time() - t0:.0f} s)", flush=True)
    res["runs"] = {k: v for k, v in res["runs"].items() if v is not None}
    res["model"] = model(res["runs"], cfg, files, tiny)
    res["seconds"] = round(time.time() - t0, 1)
    name = "arm-cost-quick" if a.quick else "arm-cost"
    write(a.out / f"{name}.json", json.dumps(res, indent=1, sort_keys=True) + "\n")
    write(a.out / f"{name}.md", markdown(res))
    print(markdown(res))
    return 0


def model(runs: dict, cfg: dict, files: dict, tiny: bool) -> dict:
    out = {"vision": vision_model(runs, cfg, files), "llm": {}, "llm_bench": {}, "sd888": {}}
    lo_l, hi_l = cfg["llm_layers"]
    for q in cfg["llm_quants"]:
        lo, hi = runs.get(f"llm/{q}/l{lo_l}"), runs.get(f"llm/{q}/l{hi_l}")
        if not (lo and hi):
            continue
        n_pre = cfg["text_prompt"]
        n_dec = hi["stages"]["decode"]["entries"]
        pre = scale(per_layer(lo, hi, lo_l, hi_l, "prefill", LLM_LAYERS), 1 / n_pre)
        dec = scale(per_layer(lo, hi, lo_l, hi_l, "decode", LLM_LAYERS), 1 / n_dec)
        load = per_layer(lo, hi, lo_l, hi_l, "llm_load", LLM_LAYERS)
        b = memory.gguf_bytes(files[("llm", q, hi_l)], hi_l)
        out["llm"][q] = {"prefill_per_token": pre, "decode_per_token": dec, "llm_load": load,
                         "bytes_per_token": b.fixed + b.per_layer * LLM_LAYERS, "weight_bytes_per_layer": b.per_layer,
                         "weight_bytes_fixed": b.fixed}
        bench = llama_bench_model(runs, cfg, q)
        if bench:
            out["llm_bench"][q] = bench
    complete = len(out["vision"]) == 2 * len(cfg["mmproj"]) and len(out["llm"]) == len(cfg["llm_quants"])
    if not tiny and complete:
        out["sd888"] = predict(out, cfg)
    return out


def vision_model(runs: dict, cfg: dict, files: dict) -> dict:
    lo_v, hi_v = cfg["vit_stored"]
    out = {}
    for side in ("edgevlm", "stock"):
        for mm in cfg["mmproj"]:
            lo, hi = runs.get(f"{side}/{mm}/vit{lo_v}"), runs.get(f"{side}/{mm}/vit{hi_v}")
            if not (lo and hi):
                continue   # not counted (yet): left out of the model, said so in the Markdown
            vit = per_layer(lo, hi, lo_v - 1, hi_v - 1, "vit", VIT_LAYERS)
            proj = per_layer(lo, hi, lo_v - 1, hi_v - 1, "projector", VIT_LAYERS)   # no layer term: constant
            load = per_layer(lo, hi, lo_v, hi_v, "vision_load", VIT_LAYERS + 1)
            attn_lo, attn_hi = (attention_insns(r["stages"]["vit"]) for r in (lo, hi))
            b = memory.gguf_bytes(files[("mmproj", mm, hi_v)], hi_v)
            shape = cfg["shapes"]
            out[f"{side}/{mm}"] = {
                "vit": vit, "projector": proj, "vision_load": load,
                "attention_insns_per_layer": attn_hi - attn_lo,
                "encode_insns": vit["insns"] + proj["insns"],
                "image_prefill_insns_2_layers": _get(hi, "prefill", "insns"),
                "vit_layer_bytes": memory.vit_layer_bytes(b.per_layer, POSITIONS, shape["vit_width"], shape["vit_ffn"]),
                "projector_bytes": b.fixed + memory.F32 * POSITIONS * shape["vit_width"] * 2}
    return out


def llama_bench_model(runs: dict, cfg: dict, q: str) -> dict | None:
    """Stock llama-bench's prefill and decode per token at 24 layers (its prompt and generation tests)."""
    lo_l, hi_l = cfg["llm_layers"]
    pp = [runs.get(f"bench/{q}/l{n}/pp") for n in (lo_l, hi_l)]
    tg = [runs.get(f"bench/{q}/l{n}/tg") for n in (lo_l, hi_l)]
    if not all(pp + tg):
        return None
    n_gen = tg[1]["stages"]["prefill"]["entries"]      # one llama_decode per generated token
    return {"prefill_per_token": scale(per_layer(*pp, lo_l, hi_l, "prefill", LLM_LAYERS), 1 / cfg["bench_prompt"]),
            "decode_per_token": scale(per_layer(*tg, lo_l, hi_l, "prefill", LLM_LAYERS), 1 / n_gen),
            "llm_load": per_layer(*pp, lo_l, hi_l, "llm_load", LLM_LAYERS), "decode_entries": n_gen}


def attention_insns(stage: dict) -> int:
    """The attention group, or (runs counted before a function joined the group) its top functions."""
    from edgevlm.armcost.symbols import group_of

    return max(stage["groups"].get("attention", 0), sum(n for f, n in stage["top"] if group_of(f) == "attention"))


def predict(m: dict, cfg: dict) -> dict:
    """SD888 times of the paper workload: from cycles alone ("compute", as before), with the memory term
    (edgevlm.armcost.memory: roofline max, the prediction) and with compute + memory summed (no overlap)."""
    pub = PUBLISHED["sd888"]
    rows = {}
    best = min(cfg["llm_quants"], key=lambda q: seconds(m["llm"][q]["prefill_per_token"], True))
    for side, mm, q, src in (("stock", "f16", "q4_k_s", "llm"), ("stock", "f16", "q4_k_s", "llm_bench"),
                             ("edgevlm", "f16", "q4_k_s", "llm"), ("edgevlm", "q8_0", "q4_k_s", "llm"),
                             ("edgevlm", "q8_0", best, "llm")):
        if q in m[src]:
            name = f"{side} mmproj {mm}, LLM {q}" + (" (LLM from llama-bench)" if src == "llm_bench" else "")
            rows[name] = sd888_times(m["vision"][f"{side}/{mm}"], m[src][q], m["llm"][q], cfg)
    return {"rows": rows, "best_ttft_quant": best, "bandwidth": {"peak": memory.PEAK_BW, "sustained": memory.SUSTAINED_BW},
            "published": {"image_encode_ms": pub[IMAGE_ENCODE_MS], "prompt_tps": pub[PROMPT_TPS],
                          "decode_tps": pub[DECODE_TPS], "decode_tps_paper": 21.5, "load_s": 23.3}}


def sd888_times(v: dict, llm: dict, weights: dict, cfg: dict) -> dict:
    """One configuration's stage times: each stage max(compute, DRAM bytes / sustained bandwidth)."""
    n_prompt, n_gen = PAPER["prompt_tokens"], PAPER["generated"]
    kv = memory.kv_bytes_per_position(LLM_LAYERS, cfg["shapes"]["llm_width"])
    per_token = weights["bytes_per_token"]
    stages = {"vit": memory.stage_seconds(seconds(v["vit"], True), VIT_LAYERS * v["vit_layer_bytes"]),
              "projector": memory.stage_seconds(seconds(v["projector"], True), v["projector_bytes"]),
              # the prompt is one batch: the weights are read once, each token's K and V written once
              "prompt": memory.stage_seconds(n_prompt * seconds(llm["prefill_per_token"], True),
                                             per_token + n_prompt * kv),
              # a generated token reads every weight and the KV cache at its context (mean over the answer)
              "decode": memory.stage_seconds(seconds(llm["decode_per_token"], True),
                                             per_token + (n_prompt + n_gen / 2) * kv)}
    load = seconds(v["vision_load"], False) + seconds(llm["llm_load"], False)
    out = {"load_cpu_s": load, "stages": stages, "bytes_per_token": per_token,
           "decode_bandwidth_share": per_token / stages["decode"]["compute_s"] / memory.PEAK_BW}
    for label, key in (("compute", "compute_s"), ("memory", "max_s"), ("no_overlap", "sum_s")):
        encode = stages["vit"][key] + stages["projector"][key]
        prompt, decode = stages["prompt"][key], stages["decode"][key]
        out[label] = {"image_encode_ms": 1000 * encode, "prompt_tps": n_prompt / prompt, "decode_tps": 1 / decode,
                      "ttft_s": load + encode + prompt, "total_s": load + encode + prompt + n_gen * decode}
    return out


# ---------------------------------------------------------------- output

def machine() -> dict:
    import subprocess

    qemu = subprocess.run(["qemu-aarch64", "--version"], capture_output=True, text=True).stdout.splitlines()[:1]
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    info = {"cpu": cpu, "cpus": os.cpu_count(), "platform": platform.platform(), "qemu": qemu[0] if qemu else "?",
            "loadavg_start": os.getloadavg()}
    info["bundle"] = json.loads((bundle_dir() / "build-info.json").read_text())
    return info


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _g(x: float) -> str:
    return f"{x / 1e9:.2f} G" if abs(x) >= 1e8 else f"{x / 1e6:.2f} M"


def markdown(res: dict) -> str:
    m, mc = res["model"], res["machine"]
    lines = [f"# arm64 cost model ({res['mode']}): instructions executed by the android-arm64 bundle under qemu",
             "", f"Counted on {mc['cpu']} ({mc['cpus']} CPUs), {mc['qemu']}, plugin kernels/tools/qemu_cost; "
             f"cycles: llvm-mca ({next(iter(res['runs'].values()))['llvm']}), X1 = Neoverse-V1 model, "
             "A78 = Neoverse-N1 model. 1 thread. Deterministic: the same bundle and inputs give the same counts.",
             "", "## Raw runs (per stage: instructions; G = 1e9)", "",
             "| run | total | " + " | ".join(STAGE_COLS) + " |", "|---|---|" + "---|" * len(STAGE_COLS)]
    for name, r in res["runs"].items():
        cells = [_g(r["stages"][s]["insns"]) if s in r["stages"] else "-" for s in STAGE_COLS]
        lines.append(f"| {name} | {_g(r['total_insns'])} | " + " | ".join(cells) + " |")
    lines += ["", f"## Vision at ViT-L/14-336 width, {VIT_LAYERS} layers (per layer from the two depths)", "",
              "| side / mmproj | ViT per layer | of which attention | ViT 23 layers | projector | encode | "
              "X1 Gcycles | A78 Gcycles | vision load (24 layers) |", "|---|---|---|---|---|---|---|---|---|"]
    for key, v in m["vision"].items():
        lines.append(f"| {key} | {_g(v['vit']['insns_per_layer'])} | {_g(v['attention_insns_per_layer'])} | "
                     f"{_g(v['vit']['insns'])} | {_g(v['projector']['insns'])} | {_g(v['encode_insns'])} | "
                     f"{(v['vit']['cycles_cortex-x1'] + v['projector']['cycles_cortex-x1']) / 1e9:.2f} | "
                     f"{(v['vit']['cycles_cortex-a78'] + v['projector']['cycles_cortex-a78']) / 1e9:.2f} | "
                     f"{_g(v['vision_load']['insns'])} |")
    lines += ["", f"## LLM at {LLM_LAYERS} layers (per token; from text-only edgevlm-run, two depths)", "",
              "| quant | prefill insns/token | prefill X1 / A78 Mcycles | decode insns/token | "
              "decode X1 / A78 Mcycles | bytes read per token | load + repack |", "|---|---|---|---|---|---|---|"]
    for q, v in m["llm"].items():
        p, d = v["prefill_per_token"], v["decode_per_token"]
        lines.append(f"| {q} | {_g(p['insns'])} | {p['cycles_cortex-x1'] / 1e6:.1f} / "
                     f"{p['cycles_cortex-a78'] / 1e6:.1f} | {_g(d['insns'])} | {d['cycles_cortex-x1'] / 1e6:.1f} / "
                     f"{d['cycles_cortex-a78'] / 1e6:.1f} | {v['bytes_per_token'] / 1e6:.0f} MB | "
                     f"{_g(v['llm_load']['insns'])} |")
    lines += bench_lines(res)
    missing = [k for k in expected_runs(res["config"]) if k not in res["runs"]]
    if missing:
        lines += ["", f"**Not counted in this run** ({len(missing)}): " + ", ".join(missing) + ". The per-layer "
                  "rows, the LLM rows and the SD888 prediction need them (`python benchmarks/arm_cost.py`)."]
    if m.get("sd888"):
        lines += sd888_lines(m["sd888"])
    if res.get("reused"):
        r = res["reused"]
        lines += ["", f"Reused runs from `{r['from']}`: " + (
            f"refused ({r['refused']})." if r.get("refused") else
            f"{len(r['reused'])} runs, after `{r['checked']}` was counted again with this bundle and matched "
            f"within {r['max_relative_difference']:.1e} per stage (paths of another checkout differ in length).")]
    lines += ["", f"Run took {res['seconds']:.0f} s. Reproduce: `python benchmarks/arm_cost.py"
              f"{' --quick' if res['mode'] == 'quick' else ''}`."]
    return "\n".join(lines) + "\n"


def bench_lines(res: dict) -> list[str]:
    m, cfg = res["model"], res["config"]
    if not m.get("llm_bench"):
        return []
    lines = ["", f"## Stock llama-bench beside edgevlm-run, LLM at {LLM_LAYERS} layers (per token)", "",
             f"llama-bench `-p {cfg['bench_prompt']} -n 0` and `-p 0 -n {cfg['bench_gen']}`, `-t 1 -r 1 --no-warmup`, "
             "same GGUF files and depths, scaled alike; edgevlm-run: its text runs above (prompt "
             f"{cfg['text_prompt']} tokens, decode after it).", "",
             "| quant | prefill insns/token: edgevlm-run / llama-bench | ratio | decode insns/token: edgevlm-run / "
             "llama-bench | ratio | llama-bench prefill X1 / A78 Mcycles | llama-bench decode X1 / A78 Mcycles |",
             "|---|---|---|---|---|---|---|"]
    for q, b in m["llm_bench"].items():
        e = m["llm"][q]
        ep, ed, bp, bd = e["prefill_per_token"], e["decode_per_token"], b["prefill_per_token"], b["decode_per_token"]
        lines.append(f"| {q} | {_g(ep['insns'])} / {_g(bp['insns'])} | {ep['insns'] / bp['insns']:.2f} | "
                     f"{_g(ed['insns'])} / {_g(bd['insns'])} | {ed['insns'] / bd['insns']:.2f} | "
                     f"{bp['cycles_cortex-x1'] / 1e6:.1f} / {bp['cycles_cortex-a78'] / 1e6:.1f} | "
                     f"{bd['cycles_cortex-x1'] / 1e6:.1f} / {bd['cycles_cortex-a78'] / 1e6:.1f} |")
    return lines


def sd888_lines(s: dict) -> list[str]:
    pub, bw = s["published"], s["bandwidth"]
    lines = ["", "## Predicted Snapdragon 888 (1 X1 @2.84 GHz + 3 A78 @2.42 GHz, 4 threads), paper workload "
             "(image + 246 prompt tokens + 128 generated)", "",
             f"compute: llvm-mca cycles alone (every load an L1 hit); + memory: each stage max(compute, DRAM bytes / "
             f"{bw['sustained'] / 1e9:.1f} GB/s sustained) (edgevlm/armcost/memory.py: bytes, bandwidth and its source).",
             "", "| | model | image encode ms | prompt tok/s | decode tok/s | decode share of 51.2 GB/s | "
             "load (CPU only) s | TTFT s | total s |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in s["rows"].items():
        for label, key in (("compute", "compute"), ("+ memory", "memory")):
            t = r[key]
            share = r["bytes_per_token"] * t["decode_tps"] / bw["peak"]
            lines.append(f"| {name} | {label} | {t['image_encode_ms']:.0f} | {t['prompt_tps']:.1f} | "
                         f"{t['decode_tps']:.1f} | {100 * share:.0f}% | {r['load_cpu_s']:.1f} | "
                         f"{t['ttft_s']:.1f} | {t['total_s']:.1f} |")
    lines.append(f"| stock, published (V1-1.7B, Q4_K_S, f16 mmproj) | measured | {pub['image_encode_ms']:.0f} | "
                 f"{pub['prompt_tps']} | {pub['decode_tps']} (paper: {pub['decode_tps_paper']}) | ≈22% | "
                 f"{pub['load_s']} (with I/O) | | |")
    stock = next(iter(s["rows"].values()))
    n = stock["no_overlap"]
    lines += ["", f"No overlap at all (compute + memory summed), stock f16 + Q4_K_S: encode {n['image_encode_ms']:.0f} ms, "
              f"prompt {n['prompt_tps']:.1f} tok/s, decode {n['decode_tps']:.1f} tok/s. Memory time per stage "
              "(stock f16 + Q4_K_S): " + ", ".join(f"{k} {1000 * v['memory_s']:.1f} ms vs compute "
                                                   f"{1000 * v['compute_s']:.1f} ms"
                                                   for k, v in stock["stages"].items()) + " (prompt: whole prompt; "
              "decode: per token).",
              "", f"Best time to first answer among the LLM quants: **{s['best_ttft_quant']}** (prefill per token "
              "at 4 threads; load excluded: flash I/O is not modelled)."]
    return lines


def expected_runs(cfg: dict) -> list[str]:
    return ([f"{side}/{mm}/vit{vs}" for vs in cfg["vit_stored"] for mm in cfg["mmproj"] for side in ("edgevlm", "stock")]
            + [f"llm/{q}/l{nl}" for nl in cfg["llm_layers"] for q in cfg["llm_quants"]]
            + [f"bench/{q}/l{nl}/{k}" for nl in cfg["llm_layers"] for q in cfg["llm_quants"] for k in ("pp", "tg")])


STAGE_COLS = ("startup", "vision_load", "vit", "projector", "llm_load", "context", "prefill", "decode", "finish")

if __name__ == "__main__":
    sys.exit(main())
