"""Whole-image encode: edgevlm's vision encoder vs stock llama.cpp (llama-mtmd-cli) on the SAME mmproj,
at the real MobileVLM_V2-1.7B shapes (CLIP ViT-L/14-336 + LDPv2, W=2048), f16 and q8_0, side by side.

    python -m benchmarks.vision [--threads 2] [--reps 3] [--work build/bench-vision]

* edgevlm: edgevlm.native.vision.VisionEncoder (in process; its own ViT ms / projector ms per encode).
  Runs MobileVLM's 23 layers, CLS first.
* stock: llama-mtmd-cli (one process per rep; "image slice encoded in N ms" = preprocess + ViT + projector).
  With edgevlm's 24-layer file stock runs n_layer - 1 = 23 layers (CLS order still wrong — REFERENCE.md).
  Stock's projector alone is timed with edgevlm-bench-ldp-stock (the LDP engineer's replica of stock's
  LDPv2 ggml graph); stock per-layer ms = (encode - projector) / 23 (an upper bound: preprocessing and the
  patch embedding are included).
* edgevlm, ggml projector (informational): the same encoder with EDGEVLM_PROJECTOR=ggml — the projector as
  ggml ops on the ViT's backend (the GPU path), here on the CPU backend, where the LDP kernel is the default.
* correctness: per-token cosine of edgevlm's embeddings vs the PyTorch reference (MobileVLM's computation)
  and vs stock's... (stock's embeddings are not exposed by mtmd-cli; REFERENCE.md has its measured cosines).
Goals (issue 4): per layer no slower than stock at equal precision; projector >= 3x faster than stock's;
q8_0 >= 1.5x faster than stock f16 (whole encode) at >= 0.99 cosine.
Results: benchmarks/results/vision-host-t<threads>.{json,md}.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import statistics
import subprocess
from pathlib import Path

import numpy as np

from benchmarks.common import REPO, goals_line, machine as base_machine, save, table

from edgevlm.bench.stock import mtmd_encode_once
from edgevlm.device.local import LocalTransport
from edgevlm.images import make_demo_image
from edgevlm.native import native_info
from edgevlm.paths import host_bin_dir

PRESET = "mobilevlm-v2-1.7b"
QUANTS = ("f16", "q8_0")


def machine() -> dict:
    info = base_machine()
    info.update(native=native_info(), loadavg_start=os.getloadavg())
    return info


def prepare(work: Path) -> dict[str, Path]:
    """Synthesize the real-shape checkpoint and convert it once per mmproj quant (reused across runs)."""
    from edgevlm.checkpoint.synth import synthesize
    from edgevlm.convert import convert

    ckpt = work / "ckpt"
    if not (ckpt / "config.json").is_file():
        synthesize(PRESET, ckpt, "safetensors", 0, False)
    out = {}
    for q in QUANTS:
        folder = work / f"conv_{q}"
        if not (folder / "manifest.json").is_file():
            convert(ckpt, folder, quant="q4_k_s", mmproj_quant=q, progress=True)
        out[q] = folder
    out["ckpt"] = ckpt
    return out


def stock_encode_ms(files, image: Path, threads: int) -> float:
    """One llama-mtmd-cli run's encode time, through the bench's own runner (which repeats the runs whose
    output the stock tool's async logger lost)."""
    args = [str(host_bin_dir() / "llama-mtmd-cli"), "-m", str(files.llm), "--mmproj", str(files.mmproj),
            "--image", str(image), "-p", "Describe.", "-n", "1", "-t", str(threads), "--temp", "0"]
    return mtmd_encode_once(LocalTransport(), " ".join(map(shlex.quote, args)), timeout_s=900)


def stock_projector_ms(threads: int, wtype: str) -> float | None:
    exe = host_bin_dir() / "edgevlm-bench-ldp-stock"
    if not exe.is_file():
        return None
    cmd = [str(exe), "--version", "v2", "--width", "2048", "--n-embd", "1024", "--threads", str(threads),
           "--reps", "3", "--warmup", "1", "--wtype", wtype]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return json.loads(proc.stdout)["median_ms"] if proc.returncode == 0 else None


def reference_embeddings(ckpt: Path, image: Path) -> np.ndarray:
    """MobileVLM's own computation (PyTorch, f32), vision tower + projector only (the LLM is not loaded)."""
    import torch

    from edgevlm.checkpoint.reader import open_checkpoint
    from edgevlm.reference import preprocess as pre
    from edgevlm.reference import projector as proj_mod
    from edgevlm.reference import vision as vision_mod

    c = open_checkpoint(ckpt)
    cfg = c.config
    get = lambda prefix: {n: c.get(n) for n in c.names() if n.startswith(prefix)}  # noqa: E731
    clip = vision_mod.build_clip(cfg.vision, get(vision_mod.VISION_PREFIX), torch.float32)
    proj = proj_mod.load_projector(cfg, get(proj_mod.PROJECTOR_PREFIX), False, torch.float32)
    pixels = pre.preprocess(image, cfg.vision.image_size, False, cfg.image_mean, cfg.image_std)
    with torch.no_grad():
        feats = vision_mod.image_features(clip, cfg.vision, pixels)
        return proj(feats.unsqueeze(0))[0].numpy()


def cosine(a: np.ndarray, b: np.ndarray) -> dict:
    from edgevlm.similarity import per_token_cosine

    c = per_token_cosine(a, b)
    return {"min": float(c.min()), "mean": float(c.mean())}


@contextlib.contextmanager
def projector_env(impl: str):
    """EDGEVLM_PROJECTOR=impl while an encoder loads (the library reads it at load), then as it was."""
    before = os.environ.get("EDGEVLM_PROJECTOR")
    os.environ["EDGEVLM_PROJECTOR"] = impl
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("EDGEVLM_PROJECTOR")
        else:
            os.environ["EDGEVLM_PROJECTOR"] = before


def load_encoder(mmproj: Path, threads: int, impl: str):
    from edgevlm.native.vision import VisionEncoder

    with projector_env(impl):
        return VisionEncoder(mmproj, threads)


def ggml_projector_case(mmproj: Path, image: Path, threads: int, reps: int, ref: np.ndarray) -> dict:
    """Whole encodes with the ggml-op projector on the CPU backend: its projector ms and its cosine."""
    with load_encoder(mmproj, threads, "ggml") as enc:
        emb = enc.encode(image)  # warm-up and correctness sample
        samples = []
        for _ in range(reps):
            enc.encode(image)
            samples.append(enc.last_timings)
        return {"impl": enc.projector_impl, "backend": enc.backend,
                "projector_ms": statistics.median(t["projector_ms"] for t in samples),
                "vit_ms": statistics.median(t["vit_ms"] for t in samples),
                "samples": samples, "cosine_vs_reference": cosine(emb, ref)}


def bench(work: Path, threads: int, reps: int) -> dict:
    from edgevlm.artifact import find_model

    dirs = prepare(work)
    image = make_demo_image(work / "image.png")
    ref = reference_embeddings(dirs["ckpt"], image)
    cases = {}
    for q in QUANTS:
        files = find_model(dirs[q])
        enc = load_encoder(files.mmproj, threads, "kernel")
        emb = enc.encode(image)  # warm-up (also the correctness sample)
        ours: list[dict] = []
        stock: list[float] = []
        for _ in range(reps):  # interleaved
            enc.encode(image)
            ours.append(enc.last_timings)
            stock.append(stock_encode_ms(files, image, threads))
        med = lambda k: statistics.median(t[k] for t in ours)  # noqa: E731
        cases[q] = {"edgevlm": {"total_ms": med("total_ms"), "vit_ms": med("vit_ms"),
                                "projector_ms": med("projector_ms"), "preprocess_ms": med("preprocess_ms"),
                                "n_layers": enc.n_layers, "per_layer_ms": med("vit_ms") / enc.n_layers,
                                "samples": ours, "cosine_vs_reference": cosine(emb, ref)},
                    "stock": {"encode_ms": statistics.median(stock), "samples_ms": stock, "n_layers": 23,
                              "projector_ms": stock_projector_ms(threads, q)},
                    "edgevlm_ggml_projector": ggml_projector_case(files.mmproj, image, threads, reps, ref)}
        enc.close()
    return summarize(cases)


def summarize(cases: dict) -> dict:
    for q, c in cases.items():
        s, e = c["stock"], c["edgevlm"]
        proj = s["projector_ms"]
        s["per_layer_ms"] = (s["encode_ms"] - (proj or 0.0)) / s["n_layers"]
        c["ratios"] = {"per_layer_stock_over_edgevlm": s["per_layer_ms"] / e["per_layer_ms"],
                       "projector_stock_over_edgevlm": (proj / e["projector_ms"]) if proj else None,
                       "encode_stock_over_edgevlm": s["encode_ms"] / e["total_ms"]}
    f16, q8 = cases["f16"], cases["q8_0"]
    goals = {"per layer no slower than stock (f16)": f16["ratios"]["per_layer_stock_over_edgevlm"] >= 1.0,
             "per layer no slower than stock (q8_0)": q8["ratios"]["per_layer_stock_over_edgevlm"] >= 1.0,
             "projector >= 3x stock (f16)": (f16["ratios"]["projector_stock_over_edgevlm"] or 0) >= 3.0,
             "q8_0 >= 1.5x stock f16, cosine >= 0.99": f16["stock"]["encode_ms"] / q8["edgevlm"]["total_ms"] >= 1.5
             and q8["edgevlm"]["cosine_vs_reference"]["min"] >= 0.99}
    return {"cases": cases, "goals": goals}


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# Image encode: edgevlm vs stock llama.cpp (MobileVLM_V2-1.7B shapes, {res['threads']} threads)", "",
             f"Machine: {m['cpu']}, {m['cpus']} CPUs; edgevlm SIMD `{m['native']['simd']}`; llama.cpp "
             f"{m['llama_cpp_commit']}; load average at start {m['loadavg_start'][0]:.1f}. Medians of {res['reps']} "
             "interleaved reps after one warm-up; random weights (speed does not depend on values).", ""]
    rows = []
    for q, c in res["cases"].items():
        e, s = c["edgevlm"], c["stock"]
        cs = e["cosine_vs_reference"]
        rows.append(f"| {q} | edgevlm | {e['n_layers']} | {e['total_ms']:.0f} | {e['per_layer_ms']:.1f} | "
                     f"{e['projector_ms']:.1f} | {cs['min']:.5f} / {cs['mean']:.5f} |")
        g = c["edgevlm_ggml_projector"]
        gs = g["cosine_vs_reference"]
        rows.append(f"| {q} | edgevlm, ggml projector ({g['backend']}, informational) | {e['n_layers']} | "
                     f"{g['vit_ms'] + g['projector_ms']:.0f} (ViT + projector) | - | {g['projector_ms']:.1f} | "
                     f"{gs['min']:.5f} / {gs['mean']:.5f} |")
        proj = f"{s['projector_ms']:.1f}" if s["projector_ms"] else "n/a"
        rows.append(f"| {q} | stock mtmd | {s['n_layers']} | {s['encode_ms']:.0f} | {s['per_layer_ms']:.1f} | {proj} | "
                     "wrong CLS order (REFERENCE.md: ~0.73-0.95 mean) |")
    lines += table(["mmproj", "side", "layers", "encode ms", "ViT ms/layer", "projector ms",
                    "min / mean cosine vs reference"], rows)
    ratios = []
    for k in ("per_layer_stock_over_edgevlm", "projector_stock_over_edgevlm", "encode_stock_over_edgevlm"):
        vals = [res["cases"][q]["ratios"][k] for q in QUANTS]
        ratios.append(f"| {k} | " + " | ".join(f"{v:.2f}x" if v else "n/a" for v in vals) + " |")
    lines += ["", *table(["ratio (stock / edgevlm)", "f16", "q8_0"], ratios)]
    lines += ["", goals_line(res["goals"]), ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", type=Path, default=REPO / "build" / "bench-vision")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    res = {"threads": args.threads, "reps": args.reps, "machine": machine(), **bench(args.work, args.threads, args.reps)}
    save(res, f"vision-host-t{args.threads}", markdown)


if __name__ == "__main__":
    main()
