"""LLM checks through llama-cpp-python (the pinned build): tokenizer parity and logits vs the reference.

Tokenizer: llama.cpp's tokenization of the GGUF must equal sentencepiece's on every string of
`tokenizer_strings()` (no BOS on either side; identical ids, not "close").

Logits: the same token ids (sentencepiece + BOS) through llama.cpp (every position, one batch) and through
the PyTorch reference (f32). Tolerances per LLM file type, set from measurements on the tiny test models
(6 prompts, 250 positions; measured top-1 / mean KL in brackets):
  f32, f16  top-1 100 % (100 %); max |Δlogit| reported (3.7e-3 / 6.6e-3: llama.cpp keeps its KV cache in f16)
  q8_0      top-1 ≥ 95 %, mean KL(ref‖gguf) ≤ 0.02       (97.6 %, 4.0e-4)
  q4_*      top-1 ≥ 70 %, mean KL ≤ 0.15                 (q4_0 80.0 %, 4.2e-2; q4_k_s/m 87.6/89.2 %, 1.1e-2)
Random weights give flat next-token distributions, so 4-bit rounding flips many near-ties; real checkpoints
agree far better. The thresholds catch a broken file (wrong permutation, wrong tensor: top-1 ≈ 0-5 %).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevlm.verify.native_llm import all_logits, loaded_model, tokenize
from edgevlm.verify.report import Check
from edgevlm.verify.strings import LOGIT_PROMPTS, tokenizer_strings

# (min top-1 agreement, max mean KL) per quant; None = not judged
TOLERANCES = {"f32": (1.0, None), "f16": (1.0, None), "q8_0": (0.95, 0.02), "q4_0": (0.70, 0.15),
              "q4_k_s": (0.70, 0.15), "q4_k_m": (0.70, 0.15)}


def check_tokenizer(llm_path: Path, tokenizer_model: Path) -> Check:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    strings = tokenizer_strings()
    mismatches = []
    with loaded_model(llm_path, vocab_only=True) as (llama_cpp, model):
        for s in strings:
            ours, ref = tokenize(llama_cpp, model, s), sp.encode(s)
            if ours != list(ref):
                mismatches.append({"text": s, "llama_cpp": ours[:24], "sentencepiece": list(ref)[:24]})
    n_ok = len(strings) - len(mismatches)
    return Check("tokenizer: llama.cpp vs sentencepiece", not mismatches, f"{n_ok}/{len(strings)} identical",
                 "all identical", {"mismatches": mismatches[:20], "n_strings": len(strings)})


def prompt_ids(tokenizer_model: Path, bos: int) -> list[list[int]]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    return [[bos] + sp.encode(p) for p in LOGIT_PROMPTS]


def compare_logits(ref: np.ndarray, got: np.ndarray) -> dict:
    ref, got = ref.astype(np.float64), got.astype(np.float64)
    top1 = float(np.mean(ref.argmax(-1) == got.argmax(-1)))
    lp = ref - _logsumexp(ref)
    lq = got - _logsumexp(got)
    kl = float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=-1)))
    return {"top1": top1, "max_abs": float(np.max(np.abs(ref - got))), "mean_kl": max(kl, 0.0)}


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(-1, keepdims=True)
    return m + np.log(np.exp(x - m).sum(-1, keepdims=True))


def check_logits(llm_path: Path, quant: str, ref_logits_fn, ids_list: list[list[int]]) -> Check:
    refs = np.concatenate([ref_logits_fn(ids) for ids in ids_list])
    with loaded_model(llm_path) as (llama_cpp, model):
        gots = np.concatenate([all_logits(llama_cpp, model, ids) for ids in ids_list])
    m = compare_logits(refs, gots)
    min_top1, max_kl = TOLERANCES[quant]
    passed = m["top1"] >= min_top1 and (max_kl is None or m["mean_kl"] <= max_kl)
    tol = f"top-1 ≥ {min_top1:.0%}" + (f", KL ≤ {max_kl}" if max_kl is not None else "")
    value = f"top-1 {m['top1']:.2%}, max|Δ| {m['max_abs']:.2e}, KL {m['mean_kl']:.2e}"
    return Check(f"LLM logits ({quant}, {refs.shape[0]} positions)", passed, value, tol, m)
