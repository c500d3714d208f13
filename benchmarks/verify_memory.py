"""verify's peak RSS on a MobileVLM V2-1.7B-shape checkpoint NOT made by `edgevlm synth` (issue 18, item 11).

The checkpoint is written by other code than edgevlm's writers: transformers' own modules (LlamaForCausalLM at
MobileLLaMA-1.4B's shapes, CLIPVisionModel at ViT-L/14-336's) plus MobileVLM's LDPv2 projector port, random
weights, `torch.save` of the bf16 state dict (as the public 1.7B ships `pytorch_model.bin`), the public
config.json key set, a real sentencepiece tokenizer.model of 32000 pieces. Then `edgevlm convert --quant q4_k_s`
and `edgevlm verify`, each under `/usr/bin/time -v`: its "Maximum resident set size" (the largest process of
the command) is the number. Goal: ≤ 4 GB, and verify exits 0 (a correct conversion).

    .venv/bin/python benchmarks/verify_memory.py [--work /tmp/verify-memory]

Writes benchmarks/results/verify-memory-1.7b.{json,md}. Needs ~12 GB of disk and ~6 GB of RAM for the build.
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import REPO as ROOT, RESULTS

VIT_L_336 = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                 image_size=336, patch_size=14, projection_dim=768, hidden_act="quick_gelu", layer_norm_eps=1e-5)
GOAL_BYTES = 4 * 1000**3


def build_checkpoint(folder: Path, seed: int = 0) -> Path:
    """Random weights at the real shapes, through transformers' modules, saved by torch.save (bf16)."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaConfig, LlamaForCausalLM

    from edgevlm.checkpoint.presets import preset_dict
    from edgevlm.reference.projector import build_ldp_v2
    from tests.wild.checkpoints import tokenizer_files

    config = preset_dict("mobilevlm-v2-1.7b")
    torch.manual_seed(seed)
    torch.set_default_dtype(torch.bfloat16)  # 1.7B parameters in bf16: ~3.4 GB while building
    llama_keys = {k: v for k, v in config.items() if k in LlamaConfig().to_dict()}
    model = LlamaForCausalLM(LlamaConfig(**llama_keys))
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)  # peaked next-token distributions, as a trained model's (tests/wild)
    clip = CLIPVisionModel(CLIPVisionConfig(**VIT_L_336))
    if not hasattr(clip, "vision_model"):  # transformers 5 keeps the tower at the top level: 4.x's layout
        inner, clip = clip, torch.nn.Module()
        clip.vision_model = inner
    wrapper = torch.nn.Module()
    wrapper.vision_tower = clip
    model.model.vision_tower = wrapper
    model.model.mm_projector = build_ldp_v2(VIT_L_336["hidden_size"], config["hidden_size"])
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()}
    del model
    torch.save(state, folder / "pytorch_model.bin")
    del state
    (folder / "config.json").write_text(json.dumps(dict(config, torch_dtype="bfloat16"), indent=2) + "\n")
    tokenizer_files(folder, config["vocab_size"])
    return folder


def timed(cmd: list[str], log: Path) -> dict:
    """`/usr/bin/time -v CMD`: exit code, wall seconds and the maximum resident set size it reports."""
    t0 = time.monotonic()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return {"cmd": " ".join(cmd), "exit": proc.returncode, "seconds": round(time.monotonic() - t0, 1),
            "max_rss_bytes": rss_kb * 1024, "log": str(log)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/verify-memory"))
    args = parser.parse_args()
    ckpt, out = args.work / "MobileVLM_V2-1.7B-transformers", args.work / "out-q4_k_s"
    if not (ckpt / "pytorch_model.bin").is_file():
        build_checkpoint(ckpt)
    edgevlm = [sys.executable, "-m", "edgevlm"]
    convert = timed([*edgevlm, "convert", str(ckpt), "-o", str(out), "--quant", "q4_k_s"], args.work / "convert.log")
    verify = timed([*edgevlm, "verify", str(out), "--checkpoint", str(ckpt), "--json", str(args.work / "verify.json")],
                   args.work / "verify.log")
    report = json.loads((args.work / "verify.json").read_text()) if (args.work / "verify.json").is_file() else {}
    result = {"checkpoint": "MobileVLM V2-1.7B shapes, transformers modules + torch.save bf16, vocab 32000",
              "convert": convert, "verify": verify, "goal_max_rss_bytes": GOAL_BYTES,
              "met": verify["exit"] == 0 and verify["max_rss_bytes"] <= GOAL_BYTES,
              "checks": [{k: c.get(k) for k in ("name", "passed", "value", "tolerance")} for c in report.get("checks", [])],
              "machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "cpus": __import__("os").cpu_count()}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "verify-memory-1.7b.json").write_text(json.dumps(result, indent=2) + "\n")
    gb = 1000**3
    lines = ["# verify's peak RSS, MobileVLM V2-1.7B-shape checkpoint not made by synth", "",
             f"{result['checkpoint']}; {result['machine']['platform']}, {result['machine']['cpus']} CPUs.", "",
             "| step | exit | wall s | max RSS GB (/usr/bin/time -v) |", "|---|---|---|---|",
             f"| convert --quant q4_k_s | {convert['exit']} | {convert['seconds']} | {convert['max_rss_bytes'] / gb:.2f} |",
             f"| verify | {verify['exit']} | {verify['seconds']} | {verify['max_rss_bytes'] / gb:.2f} |", "",
             f"Goal: verify exits 0 with max RSS ≤ {GOAL_BYTES / gb:.0f} GB: **{'met' if result['met'] else 'NOT met'}**.",
             "", "| check | verdict | value | tolerance |", "|---|---|---|---|"]
    verdict = {True: "pass", False: "FAIL", None: "reported"}
    lines += [f"| {c['name']} | {verdict[c['passed']]} | {c['value']} | {c['tolerance']} |" for c in result["checks"]]
    (RESULTS / "verify-memory-1.7b.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
