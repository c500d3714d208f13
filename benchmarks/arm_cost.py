"""The arm64 cost model of every stage: the android-arm64 bundle counted under qemu-user (edgevlm.armcost).

    python benchmarks/arm_cost.py            # full: real ViT-L/14-336 and V2-1.7B LLM widths, a few layers, scaled
    python benchmarks/arm_cost.py --quick    # the tiny synthetic model (minutes; what the tests' workload is)

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
* Snapdragon 888 (1 X1 at 2.84 GHz + 3 A78 at 2.42 GHz, 4 threads): a parallel stage's work is shared by the
  four cores at their rates (clock / estimated cycles per unit of work: ggml hands out matmul chunks
  dynamically); loads and setup run on the X1 alone. Decode also as a share of the 51.2 GB/s LPDDR5 bound from
  the bytes a token reads (the LLM file less its token embeddings). Predicted beside the published SD888
  figures (edgevlm.bench.published), not tuned to them.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgevlm.armcost.measure import measure  # noqa: E402
from edgevlm.bench.published import PUBLISHED  # noqa: E402
from edgevlm.store.metrics import DECODE_TPS, IMAGE_ENCODE_MS, PROMPT_TPS  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
X1_HZ, A78_HZ, N_A78 = 2.84e9, 2.42e9, 3
BANDWIDTH = 51.2e9
PAPER = {"prompt_tokens": 246, "image_tokens": 144, "generated": 128}
VIT_LAYERS = 23            # MobileVLM runs 23 of CLIP's 24 layers; so does stock on edgevlm's 24-layer file
LLM_LAYERS = 24
QUESTION = "What is in the image?"
MEM_AVAILABLE = "16000000000"   # fixed: edgevlm-run would read the host's MemAvailable (varying digits)

FULL = {"vit_stored": (2, 3), "llm_layers": (2, 4), "llm_quants": ("q4_0", "q4_k_s", "q4_k_m", "q8_0"),
        "mmproj": ("f16", "q8_0"), "text_prompt": 246, "text_gen": 8, "image_llm_quant": "q4_k_s"}
QUICK = {"vit_stored": (2, 3), "llm_layers": (2, 4), "llm_quants": ("q4_0", "q8_0"), "mmproj": ("f16", "q8_0"),
         "text_prompt": 64, "text_gen": 4, "image_llm_quant": "q4_0"}


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


def run_edgevlm(work: Path, llm: Path, mmproj: Path | None, image: Path | None, prompt_tokens: int, gen: int):
    files = {"model.gguf": llm}
    args = [str(bundle_dir() / "edgevlm-run"), "-m", "model.gguf", "-t", "1", "-n", str(gen), "--ignore-eos",
            "--no-stream", "--off", "overlap", "--mem-available", MEM_AVAILABLE]
    if mmproj:
        files.update({"mmproj.gguf": mmproj, "image.png": image})
        args += ["--mmproj", "mmproj.gguf", "--image", "image.png", "-p", QUESTION]
    else:
        args += ["-p", QUESTION, "--prompt-tokens", str(prompt_tokens)]
    return measure(args, cwd=stage_dir(work, files))


def run_mtmd(work: Path, llm: Path, mmproj: Path, image: Path, gen: int):
    files = {"model.gguf": llm, "mmproj.gguf": mmproj, "image.png": image}
    args = [str(bundle_dir() / "llama-mtmd-cli"), "-m", "model.gguf", "--mmproj", "mmproj.gguf", "--image", "image.png",
            "-p", QUESTION, "-t", "1", "-n", str(gen), "--temp", "0", "--ignore-eos", "--no-warmup"]
    return measure(args, cwd=stage_dir(work, files))


CACHED_ONLY = False   # --cached-only: report the runs already counted, count nothing new


def cached(work: Path, name: str, run) -> dict:
    """A run's summary, kept under WORK/runs/ per bundle (its build-info hash): a rerun after a change to the
    model below costs nothing, and a changed bundle is counted again."""
    import hashlib

    tag = hashlib.sha256((bundle_dir() / "build-info.json").read_bytes()).hexdigest()[:12]
    for tool in ("edgevlm-run", "llama-mtmd-cli"):
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


def llm_bytes_per_token(llm: Path, layers_file: int) -> float:
    """Bytes one decoded token reads at LLM_LAYERS layers: every tensor but the token embeddings (one row)."""
    from gguf import GGUFReader

    per_layer = fixed = 0
    for t in GGUFReader(str(llm)).tensors:
        if t.name.startswith("blk."):
            per_layer += int(t.n_bytes)
        elif t.name != "token_embd.weight":
            fixed += int(t.n_bytes)
    return fixed + per_layer / layers_file * LLM_LAYERS


# ---------------------------------------------------------------- the benchmark

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "arm-cost")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--cached-only", action="store_true", help="write results from the runs already counted")
    a = ap.parse_args()
    global CACHED_ONLY
    CACHED_ONLY = a.cached_only
    cfg = QUICK if a.quick else FULL
    tiny = a.quick
    work = a.work / ("quick" if a.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    from edgevlm.images import make_demo_image

    image = work / "image.png"
    if not image.is_file():
        make_demo_image(image)
    t0 = time.time()
    res = {"mode": "quick" if a.quick else "full", "config": cfg, "machine": machine(), "runs": {}}

    # vision: both tools, both mmproj types, two ViT depths (the LLM: 2 layers, it is not what is measured here)
    for vs in cfg["vit_stored"]:
        ckpt = checkpoint(work, 2, vs, tiny)
        for mm in cfg["mmproj"]:
            llm, mmproj = converted(work, ckpt, cfg["image_llm_quant"], mm)
            for side, fn in (("edgevlm", lambda: run_edgevlm(work, llm, mmproj, image, 0, 1)),
                             ("stock", lambda: run_mtmd(work, llm, mmproj, image, 1))):
                res["runs"][f"{side}/{mm}/vit{vs}"] = cached(work, f"{side}/{mm}/vit{vs}", fn)
            print(f"vision {mm} {vs} layers stored: done ({time.time() - t0:.0f} s)", flush=True)
    # LLM: text-only edgevlm-run per quant at two depths
    llm_files = {}
    for nl in cfg["llm_layers"]:
        ckpt = checkpoint(work, nl, None, tiny)
        for q in cfg["llm_quants"]:
            llm, _ = converted(work, ckpt, q, "f16")
            llm_files[(q, nl)] = llm
            res["runs"][f"llm/{q}/l{nl}"] = cached(work, f"llm/{q}/l{nl}", lambda: run_edgevlm(
                work, llm, None, None, cfg["text_prompt"], cfg["text_gen"]))
            print(f"llm {q} {nl} layers: done ({time.time() - t0:.0f} s)", flush=True)
    res["runs"] = {k: v for k, v in res["runs"].items() if v is not None}
    res["model"] = model(res["runs"], cfg, llm_files, tiny)
    res["seconds"] = round(time.time() - t0, 1)
    name = "arm-cost-quick" if a.quick else "arm-cost"
    write(a.out / f"{name}.json", json.dumps(res, indent=1, sort_keys=True) + "\n")
    write(a.out / f"{name}.md", markdown(res))
    print(markdown(res))
    return 0


def model(runs: dict, cfg: dict, llm_files: dict, tiny: bool) -> dict:
    lo_v, hi_v = cfg["vit_stored"]
    out = {"vision": {}, "llm": {}, "sd888": {}}
    for side in ("edgevlm", "stock"):
        for mm in cfg["mmproj"]:
            lo, hi = runs.get(f"{side}/{mm}/vit{lo_v}"), runs.get(f"{side}/{mm}/vit{hi_v}")
            if not (lo and hi):
                continue   # not counted (yet): left out of the model, said so in the Markdown
            vit = per_layer(lo, hi, lo_v - 1, hi_v - 1, "vit", VIT_LAYERS)
            proj = per_layer(lo, hi, lo_v - 1, hi_v - 1, "projector", VIT_LAYERS)   # no layer term: constant
            load = per_layer(lo, hi, lo_v, hi_v, "vision_load", VIT_LAYERS + 1)
            attn_lo, attn_hi = (attention_insns(r["stages"]["vit"]) for r in (lo, hi))
            out["vision"][f"{side}/{mm}"] = {
                "vit": vit, "projector": proj, "vision_load": load,
                "attention_insns_per_layer": attn_hi - attn_lo,
                "encode_insns": vit["insns"] + proj["insns"],
                "image_prefill_insns_2_layers": _get(hi, "prefill", "insns")}
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
        out["llm"][q] = {"prefill_per_token": pre, "decode_per_token": dec, "llm_load": load,
                         "bytes_per_token": llm_bytes_per_token(llm_files[(q, hi_l)], hi_l)}
    complete = len(out["vision"]) == 2 * len(cfg["mmproj"]) and len(out["llm"]) == len(cfg["llm_quants"])
    if not tiny and complete:
        out["sd888"] = predict(out, cfg)
    return out


def attention_insns(stage: dict) -> int:
    """The attention group, or (runs counted before a function joined the group) its top functions."""
    from edgevlm.armcost.symbols import group_of

    return max(stage["groups"].get("attention", 0), sum(n for f, n in stage["top"] if group_of(f) == "attention"))


def predict(m: dict, cfg: dict) -> dict:
    pub = PUBLISHED["sd888"]
    rows = {}
    best = min(cfg["llm_quants"], key=lambda q: seconds(m["llm"][q]["prefill_per_token"], True))
    for side, mm, q in (("stock", "f16", "q4_k_s"), ("edgevlm", "f16", "q4_k_s"), ("edgevlm", "q8_0", "q4_k_s"),
                        ("edgevlm", "q8_0", best)):
        v, llm = m["vision"][f"{side}/{mm}"], m["llm"][q]
        encode = seconds(v["vit"], True) + seconds(v["projector"], True)
        prompt = PAPER["prompt_tokens"] * seconds(llm["prefill_per_token"], True)
        decode = seconds(llm["decode_per_token"], True)
        load = seconds(v["vision_load"], False) + seconds(llm["llm_load"], False)
        rows[f"{side} mmproj {mm}, LLM {q}"] = {
            "image_encode_ms": 1000 * encode, "prompt_tps": PAPER["prompt_tokens"] / prompt,
            "decode_tps": 1 / decode, "load_cpu_s": load,
            "ttft_s": load + encode + prompt,
            "decode_bandwidth_share": llm["bytes_per_token"] / decode / BANDWIDTH,
            "total_s": load + encode + prompt + PAPER["generated"] * decode}
    return {"rows": rows, "best_ttft_quant": best,
            "published": {"image_encode_ms": pub[IMAGE_ENCODE_MS], "prompt_tps": pub[PROMPT_TPS],
                          "decode_tps": pub[DECODE_TPS], "decode_tps_paper": 21.5, "load_s": 23.3}}


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
    missing = [k for k in expected_runs(res["config"]) if k not in res["runs"]]
    if missing:
        lines += ["", f"**Not counted in this run** ({len(missing)}): " + ", ".join(missing) + ". The per-layer "
                  "rows, the LLM rows and the SD888 prediction need them (`python benchmarks/arm_cost.py`)."]
    if m.get("sd888"):
        s, pub = m["sd888"], m["sd888"]["published"]
        lines += ["", "## Predicted Snapdragon 888 (1 X1 @2.84 GHz + 3 A78 @2.42 GHz, 4 threads), paper workload "
                  "(image + 246 prompt tokens + 128 generated)", "",
                  "| | image encode ms | prompt tok/s | decode tok/s | decode share of 51.2 GB/s | load (CPU only) s "
                  "| TTFT s | total s |", "|---|---|---|---|---|---|---|---|"]
        for name, r in s["rows"].items():
            lines.append(f"| {name} (predicted) | {r['image_encode_ms']:.0f} | {r['prompt_tps']:.1f} | "
                         f"{r['decode_tps']:.1f} | {100 * r['decode_bandwidth_share']:.0f}% | {r['load_cpu_s']:.1f} | "
                         f"{r['ttft_s']:.1f} | {r['total_s']:.1f} |")
        lines.append(f"| stock, published (V1-1.7B, Q4_K_S, f16 mmproj) | {pub['image_encode_ms']:.0f} | "
                     f"{pub['prompt_tps']} | {pub['decode_tps']} (paper: {pub['decode_tps_paper']}) | ≈22% | "
                     f"{pub['load_s']} (with I/O) | | |")
        lines += ["", f"Best time to first answer among the LLM quants: **{s['best_ttft_quant']}** (prefill per token "
                  "at 4 threads; load excluded: flash I/O is not modelled)."]
    lines += ["", f"Run took {res['seconds']:.0f} s. Reproduce: `python benchmarks/arm_cost.py"
              f"{' --quick' if res['mode'] == 'quick' else ''}`."]
    return "\n".join(lines) + "\n"


def expected_runs(cfg: dict) -> list[str]:
    return ([f"{side}/{mm}/vit{vs}" for vs in cfg["vit_stored"] for mm in cfg["mmproj"] for side in ("edgevlm", "stock")]
            + [f"llm/{q}/l{nl}" for nl in cfg["llm_layers"] for q in cfg["llm_quants"]])


STAGE_COLS = ("startup", "vision_load", "vit", "projector", "llm_load", "context", "prefill", "decode", "finish")

if __name__ == "__main__":
    sys.exit(main())
