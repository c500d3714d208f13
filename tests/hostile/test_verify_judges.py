"""verify judges the converter, not the quantizer (issue 18, item 11): when the quantized tensors are exactly
llama.cpp's quantization of the verified unquantized file, the quantized loss is reported, not judged; it is
judged where it can show a fault of ours (an importance matrix, tensors that differ). A correct q4_k_s
conversion of a checkpoint written by transformers + torch.save (not by edgevlm synth) exits 0."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgevlm.verify.llm import loss_check

LOSSY = {"top1": 0.8, "mean_kl": 0.604, "max_abs": 9.0}  # what main failed on the 1.7B-shape checkpoint


def test_the_quantizers_own_loss_is_reported_not_judged():
    assert loss_check("q4_k_s", "f16", LOSSY, quantizer_own=True).passed is None


def test_loss_is_judged_when_it_can_show_our_fault():
    assert loss_check("q4_k_s", "f16", LOSSY, quantizer_own=False).passed is False  # imatrix / differing
    assert loss_check("q4_k_s", "f16", dict(LOSSY, mean_kl=0.05), quantizer_own=False).passed is True


@pytest.mark.native
def test_correct_q4_conversion_of_a_transformers_checkpoint_exits_0(native_bin, tmp_path, test_image):
    from tests.wild.checkpoints import build_model, real_config, save, tokenizer_files

    cfg = real_config("mtgv/MobileLLaMA-1.4B-Chat", "")
    src = save(build_model(cfg, seed=3), tmp_path / "MobileLLaMA-1.4B-Chat", cfg, "bin-bf16")
    tokenizer_files(src, cfg["vocab_size"])
    edgevlm = [sys.executable, "-m", "edgevlm"]
    done = subprocess.run([*edgevlm, "convert", str(src), "-o", str(tmp_path / "out"), "--quant", "q4_k_s"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    proc = subprocess.run([*edgevlm, "verify", str(tmp_path / "out"), "--checkpoint", str(src), "--json",
                           str(tmp_path / "verify.json")], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    checks = {c["name"]: c for c in json.loads((tmp_path / "verify.json").read_text())["checks"]}
    identity = next(c for n, c in checks.items() if n.startswith("LLM q4_k_s file = llama.cpp's"))
    loss = next(c for n, c in checks.items() if n.startswith("LLM q4_k_s loss"))
    assert identity["passed"] is True and loss["passed"] is None and loss["details"]["mean_kl"] > 0
