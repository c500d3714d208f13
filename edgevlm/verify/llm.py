"""LLM checks through llama-cpp-python (the pinned build): tokenizer parity and logits vs the reference.

Tokenizer: llama.cpp's tokenization of the GGUF must equal sentencepiece's on every string of
`tokenizer_strings()` (no BOS on either side; identical ids, not "close").

Logits: the same token ids (sentencepiece + BOS) through llama.cpp (all positions) and through the PyTorch
reference. Tolerances, per LLM file type:
  f32, f16  top-1 agreement 100 %; max |Δlogit| reported (f16 weights round to 11 bits: expect ~1e-2 at most)
  q8_0      top-1 ≥ 95 %, mean KL(ref‖gguf) ≤ 0.02
  q4_*      top-1 ≥ 70 %, mean KL ≤ 0.5 — on the tiny random test models most rows are too short for
            4-bit blocks and fall back, but the remaining 4-bit matrices of random weights flip near-ties;
            measured values are in the report, thresholds are set from measurements with margin.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edgevlm.verify.report import Check
from edgevlm.verify.strings import LOGIT_PROMPTS, tokenizer_strings

# (min top-1 agreement, max mean KL) per quant; None = not judged
TOLERANCES = {"f32": (1.0, None), "f16": (1.0, None), "q8_0": (0.95, 0.02), "q4_0": (0.70, 0.5),
              "q4_k_s": (0.70, 0.5), "q4_k_m": (0.70, 0.5)}


def load_llama(path: Path, n_ctx: int = 512, vocab_only: bool = False):
    from edgevlm.llama_env import import_llama_cpp

    llama_cpp = import_llama_cpp()
    return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, logits_all=True, verbose=False, n_threads=2,
                           n_gpu_layers=0, vocab_only=vocab_only)


def check_tokenizer(llm_path: Path, tokenizer_model: Path) -> Check:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    llama = load_llama(llm_path, vocab_only=True)
    strings = tokenizer_strings()
    mismatches = []
    for s in strings:
        ours = llama.tokenize(s.encode("utf-8"), add_bos=False, special=False)
        ref = sp.encode(s)
        if list(ours) != list(ref):
            mismatches.append({"text": s, "llama_cpp": list(ours)[:24], "sentencepiece": list(ref)[:24]})
    n_ok = len(strings) - len(mismatches)
    return Check("tokenizer: llama.cpp vs sentencepiece", not mismatches, f"{n_ok}/{len(strings)} identical",
                 "all identical", {"mismatches": mismatches[:20], "n_strings": len(strings)})


def prompt_ids(tokenizer_model: Path, bos: int) -> list[list[int]]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_model))
    return [[bos] + sp.encode(p) for p in LOGIT_PROMPTS]


def gguf_logits(llama, ids: list[int]) -> np.ndarray:
    llama.reset()
    llama.eval(ids)
    return np.array(llama.scores[: len(ids)], dtype=np.float64)


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
    llama = load_llama(llm_path)
    refs = np.concatenate([ref_logits_fn(ids) for ids in ids_list])
    gots = np.concatenate([gguf_logits(llama, ids) for ids in ids_list])
    m = compare_logits(refs, gots)
    min_top1, max_kl = TOLERANCES[quant]
    passed = m["top1"] >= min_top1 and (max_kl is None or m["mean_kl"] <= max_kl)
    tol = f"top-1 ≥ {min_top1:.0%}" + (f", KL ≤ {max_kl}" if max_kl is not None else "")
    value = f"top-1 {m['top1']:.2%}, max|Δ| {m['max_abs']:.2e}, KL {m['mean_kl']:.2e}"
    return Check(f"LLM logits ({quant}, {refs.shape[0]} positions)", passed, value, tol, m)
