"""edgevlm convert vs llama.cpp's documented MobileVLM recipe, side by side in one run.

    python -m benchmarks.convert [--preset mobilevlm-v2-1.7b] [--work DIR] [--keep]

Anchor: docs/multimodal/MobileVLM.md of the pinned llama.cpp tree, run from that tree with its own gguf-py
on PYTHONPATH:
  1. tools/mtmd/legacy-models/llava_surgery.py -m CKPT          (the doc's path ./tools/mtmd/... is stale)
  2. tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py -m CLIP --llava-projector CKPT/llava.projector
     --output-dir CKPT --projector-type ldpv2 --clip-model-is-vision
  3. examples/convert_legacy_llama.py CKPT --skip-unknown        (writes the F32 LLM)
  4. llama-quantize CKPT/ggml-model-f32.gguf OUT.gguf q4_k_s
The recipe needs the OpenAI CLIP repo as a second download; here that folder is built from the synthetic
checkpoint's own tower (same weights, CLIPVisionModel layout) and that step is timed apart, not counted.
The recipe writes into its input folder, so it runs on a copy of the checkpoint (copy not timed).
The recipe's image-encoder script needs transformers 4.x (transformers 5 dropped CLIPVisionModel's
`vision_model` wrapper it walks); those run with a side folder on PYTHONPATH holding transformers 4.57.3,
huggingface_hub 0.36.0 and tokenizers 0.22.1 (`pip install --target build/recipe-pkgs --no-deps …`, done by
this script when the folder is missing). The legacy converter names its output after the model
(`<name>-F32.gguf`), not `ggml-model-f32.gguf` as the doc says.

Candidate: `edgevlm convert CKPT -o OUT --quant q4_k_s --mmproj-quant f16` (the same output types).
Both sides quantize with the same llama.cpp function (from an F16 file, edgevlm's in-process call and
the llama-quantize binary give byte-identical output), which is most of either side's time; so the
conversion proper is also compared on its own: `edgevlm convert --quant f16` (LLM F16 + mmproj) vs the
recipe's steps 1-3 (LLM F32 + mmproj).
Each step runs as its own process; wall time and peak RSS (sum over the process tree, psutil polling every
50 ms) are recorded. Results: benchmarks/results/convert-<preset>.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.common import REPO, RESULTS, machine

from edgevlm.toolchain.pin import LLAMA_CPP_COMMIT
from edgevlm.paths import build_root, host_bin_dir

LLAMA_SRC = build_root() / "src" / f"llama.cpp-{LLAMA_CPP_COMMIT}"
RECIPE_PKGS = ("transformers==4.57.3", "huggingface_hub==0.36.0", "tokenizers==0.22.1")


def recipe_pythonpath() -> str:
    side = build_root() / "recipe-pkgs"
    if not (side / "transformers").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(side), "--no-deps",
                        *RECIPE_PKGS], check=True)
    return f"{LLAMA_SRC / 'gguf-py'}{os.pathsep}{side}"


def measure(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run `cmd`; wall seconds and peak RSS of its whole process tree (bytes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, stop = [0], threading.Event()

    def poll():
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            stop.wait(0.05)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    out, _ = proc.communicate()
    stop.set()
    t.join()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}… failed ({proc.returncode}):\n{out[-3000:]}")
    return {"cmd": " ".join(str(c) for c in cmd), "seconds": round(wall, 2), "peak_rss_bytes": peak[0],
            "loadavg_1min_after": round(os.getloadavg()[0], 2)}  # shared machine: other jobs show up here


def build_clip_folder(ckpt: Path, dest: Path) -> None:
    """The OpenAI CLIP repo stand-in: the checkpoint's tower as a CLIPVisionModel folder (config + safetensors)."""
    from safetensors.torch import save_file

    from edgevlm.checkpoint.config import MobileVLMConfig
    from edgevlm.checkpoint.reader import open_checkpoint

    ck = open_checkpoint(ckpt)
    v = MobileVLMConfig.load(ckpt).vision
    prefix = "model.vision_tower.vision_tower."
    tensors = {n[len(prefix):]: ck.get(n).float().contiguous() for n in ck.names() if n.startswith(prefix)}
    dest.mkdir(parents=True)
    save_file(tensors, dest / "model.safetensors", metadata={"format": "pt"})
    config = {"architectures": ["CLIPVisionModel"], "model_type": "clip_vision_model", "hidden_size": v.hidden_size,
              "intermediate_size": v.intermediate_size, "num_hidden_layers": v.num_hidden_layers,
              "num_attention_heads": v.num_attention_heads, "image_size": v.image_size, "patch_size": v.patch_size,
              "layer_norm_eps": v.layer_norm_eps, "hidden_act": v.hidden_act, "projection_dim": v.projection_dim,
              "num_channels": 3, "torch_dtype": "float32"}
    (dest / "config.json").write_text(json.dumps(config, indent=2))


def run_recipe(ckpt: Path, work: Path) -> dict:
    copy = work / "recipe-ckpt"
    shutil.copytree(ckpt, copy)
    clip = work / "clip-vit-large-patch14-336"
    t0 = time.perf_counter()
    build_clip_folder(ckpt, clip)
    clip_seconds = time.perf_counter() - t0
    env = dict(os.environ, PYTHONPATH=recipe_pythonpath())
    py, mean, std = sys.executable, ["0.48145466", "0.4578275", "0.40821073"], ["0.26862954", "0.26130258",
                                                                              "0.27577711"]
    steps = {
        "llava_surgery": [py, str(LLAMA_SRC / "tools/mtmd/legacy-models/llava_surgery.py"), "-m", str(copy)],
        "image_encoder": [py, str(LLAMA_SRC / "tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py"),
                          "-m", str(clip), "--llava-projector", str(copy / "llava.projector"), "--output-dir",
                          str(copy), "--projector-type", "ldpv2", "--clip-model-is-vision",
                          "--image-mean", *mean, "--image-std", *std],
        "legacy_llama": [py, str(LLAMA_SRC / "examples/convert_legacy_llama.py"), str(copy), "--skip-unknown",
                         "--outtype", "f32"],
    }
    results = {name: measure(cmd, env=env) for name, cmd in steps.items()}
    f32 = next(copy.glob("*-F32.gguf"))
    results["quantize"] = measure([str(host_bin_dir() / "llama-quantize"), str(f32),
                                   str(work / "recipe-q4_k_s.gguf"), "q4_k_s"])
    mmproj = next(copy.glob("mmproj-*.gguf"))
    return {"steps": results, "clip_folder_seconds": round(clip_seconds, 2),
            "outputs": {"llm": (work / "recipe-q4_k_s.gguf").stat().st_size, "mmproj": mmproj.stat().st_size}}


def run_edgevlm(ckpt: Path, work: Path, quant: str = "q4_k_s") -> dict:
    out = work / f"edgevlm-out-{quant}"
    shutil.rmtree(out, ignore_errors=True)
    r = measure([sys.executable, "-m", "edgevlm", "convert", str(ckpt), "-o", str(out), "--quant", quant,
                 "--mmproj-quant", "f16"], cwd=REPO)
    manifest = json.loads((out / "manifest.json").read_text())
    return {"steps": {f"edgevlm_convert_{quant}": r},
            "outputs": {k: manifest["files"][k]["size"] for k in ("llm", "mmproj")}}


def summarise(side: dict) -> dict:
    steps = side["steps"].values()
    return {"seconds": round(sum(s["seconds"] for s in steps), 2), "peak_rss_bytes": max(s["peak_rss_bytes"]
                                                                                        for s in steps)}


def markdown(res: dict) -> str:
    gb = 1e9
    lines = [f"# edgevlm convert vs llama.cpp's MobileVLM recipe ({res['preset']})", "",
             f"Machine: {res['machine']['cpu']}, {res['machine']['cpus']} CPUs, "
             f"{res['machine']['memory_bytes'] / gb:.1f} GB RAM; llama.cpp {res['machine']['llama_cpp_commit']}.",
             f"Checkpoint: synthetic `{res['preset']}` ({res['checkpoint_bytes'] / gb:.2f} GB, bf16 pytorch_model.bin).",
             "", "| step | wall s | peak RSS GB |", "|---|---|---|"]
    for side in ("recipe", "edgevlm", "edgevlm_f16"):
        for name, s in res[side]["steps"].items():
            lines.append(f"| {side}: {name} | {s['seconds']:.1f} | {s['peak_rss_bytes'] / gb:.2f} |")
    c = res["conversion_only"]
    r, e = res["recipe"]["total"], res["edgevlm"]["total"]
    lines += ["", "| | recipe | edgevlm | edgevlm / recipe | goal |", "|---|---|---|---|---|",
              f"| wall time s | {r['seconds']:.1f} | {e['seconds']:.1f} | {res['ratios']['time']:.2f} | ≤ 0.5 |",
              f"| peak RSS GB | {r['peak_rss_bytes'] / gb:.2f} | {e['peak_rss_bytes'] / gb:.2f} | "
              f"{res['ratios']['peak_rss']:.2f} | ≤ 0.5 |",
              f"| conversion only, wall s (edgevlm F16 vs recipe steps 1-3) | {c['recipe_steps_1_3_seconds']:.1f} | "
              f"{c['edgevlm_f16_seconds']:.1f} | {c['time_ratio']:.2f} | |", "",
              "Quantization is the same llama.cpp function on both sides and dominates both; its time depends on "
              "the machine's load (1-min load average after each step is in the JSON).",
              f"Outputs (bytes): recipe {res['recipe']['outputs']}, edgevlm {res['edgevlm']['outputs']}.",
              f"Not counted for the recipe: building the CLIP folder it needs as a second download "
              f"({res['recipe']['clip_folder_seconds']:.1f} s here), copying the checkpoint it writes into.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mobilevlm-v2-1.7b")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="edgevlm-bench-convert-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        from edgevlm.checkpoint.synth import synthesize

        ckpt = work / "ckpt"
        if not ckpt.exists():
            synthesize(args.preset, ckpt, "bin")
        res = {"preset": args.preset, "machine": machine(),
               "checkpoint_bytes": sum(p.stat().st_size for p in ckpt.iterdir())}
        res["edgevlm"] = run_edgevlm(ckpt, work)  # first: the recipe's copy would warm the page cache for it
        res["edgevlm_f16"] = run_edgevlm(ckpt, work, "f16")
        res["recipe"] = run_recipe(ckpt, work)
        for side in ("recipe", "edgevlm", "edgevlm_f16"):
            res[side]["total"] = summarise(res[side])
        r, e = res["recipe"]["total"], res["edgevlm"]["total"]
        res["ratios"] = {"time": round(e["seconds"] / r["seconds"], 3),
                         "peak_rss": round(e["peak_rss_bytes"] / r["peak_rss_bytes"], 3)}
        pre = [res["recipe"]["steps"][k] for k in ("llava_surgery", "image_encoder", "legacy_llama")]
        pre_s, f16 = sum(s["seconds"] for s in pre), res["edgevlm_f16"]["total"]
        res["conversion_only"] = {"recipe_steps_1_3_seconds": round(pre_s, 2),
                                  "recipe_steps_1_3_peak_rss_bytes": max(s["peak_rss_bytes"] for s in pre),
                                  "edgevlm_f16_seconds": f16["seconds"], "edgevlm_f16_peak_rss_bytes":
                                  f16["peak_rss_bytes"], "time_ratio": round(f16["seconds"] / pre_s, 3)}
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"convert-{args.preset}.json").write_text(json.dumps(res, indent=2) + "\n")
        (RESULTS / f"convert-{args.preset}.md").write_text(markdown(res))
        print(markdown(res))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
