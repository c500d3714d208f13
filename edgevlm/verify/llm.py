"""LLM checks through llama-cpp-python (the pinned build): tokenizer parity and logits vs the reference.

Tokenizer: llama.cpp's tokenization of the GGUF must equal the checkpoint tokenizer's on every string of
`tokenizer_strings()` plus strings around each added token (no BOS on either side; identical ids, not
"close"). The checkpoint side is sentencepiece with the added tokens (added_tokens.json) split out first,
each text chunk encoded on its own — what transformers' LlamaTokenizer and llama.cpp both do.

Logits: the same token ids (sentencepiece + BOS) through llama.cpp (every position, one batch) and through
the PyTorch reference, always f32 (its decoder layers streamed one at a time, so the judge does not change
with model size or the checkpoint's dtype). The reference is the judge of the UNQUANTIZED file only:
  f32 file    top-1 100 %, mean KL ≤ 1e-4  (tiny: 100 %, max |Δ| 3.7e-3: llama.cpp's f16 KV cache)
  f16 file    top-1 ≥ 99 %, mean KL ≤ 1e-3 (f16 rounding of weights and KV; random full-size weights give
              near-tied logits, so a few flips among 32000 near-equal candidates are rounding, not mapping)
A quantized LLM is judged against the unquantized GGUF the same conversion makes (rebuilt here in a
temporary folder from the checkpoint and itself judged by the reference, above), not against the reference:
  * its tensors must be exactly what llama.cpp's quantizer makes of that file (then what it loses IS what
    its quant type loses; skipped, reported, when it was made with an importance matrix);
  * its loss against that file, mean KL(unquantized ‖ quantized). When the tensors ARE llama.cpp's own
    quantization of the verified file, that loss is the quantizer's, not the converter's: it is reported, not
    judged (a 1.7B-shape checkpoint of random weights written by transformers lost KL 0.60 at q4_k_s on
    near-tied logits, and main failed that correct conversion). It is judged — within what the type normally
    loses, q8_0 ≤ 0.01 (tiny 4e-4), q4_* ≤ 0.15 (tiny q4_k_m 1.1e-2, q4_0 4e-2) — only where it can reveal a
    fault of ours: a file made with an importance matrix, or one whose tensors differ from the re-quantization.
    Top-1 is always reported, never judged: random weights give near-tied logits.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import sentencepiece as spm
from gguf import GGUFReader

from edgevlm.convert import rebuild_unquantized
from edgevlm.quantize import quantize_gguf
from edgevlm.quants import QUANTS
from edgevlm.verify.native_llm import all_logits, loaded_model, tokenize
from edgevlm.verify.report import Check
from edgevlm.verify.strings import LOGIT_PROMPTS, tokenizer_strings

# tolerances per type: edgevlm.quants (unquantized: reference_tolerance vs the f32 reference; quantized:
# kl_budget vs the unquantized GGUF, what the type normally loses — see above)


def added_tokens(ckpt_dir: Path) -> dict[str, int]:
    path = ckpt_dir / "added_tokens.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def reference_tokenize(sp, added: dict[str, int], text: str) -> list[int]:
    """Added tokens matched first (longest first), every text chunk between them encoded by sentencepiece."""
    if not added:
        return list(sp.encode(text))
    pattern = "(" + "|".join(re.escape(t) for t in sorted(added, key=len, reverse=True)) + ")"
    out: list[int] = []
    for part in re.split(pattern, text):
        if part in added:
            out.append(added[part])
        elif part:
            out += sp.encode(part)
    return out


def check_tokenizer(llm_path: Path, ckpt_dir: Path) -> Check:
    sp = spm.SentencePieceProcessor(model_file=str(ckpt_dir / "tokenizer.model"))
    added = added_tokens(ckpt_dir)
    strings = tokenizer_strings() + [f"{pre}{tok}{post}" for tok in added
                                     for pre, post in (("", ""), ("Hi ", " there"), ("x", "y"), ("\n", "\n"))]
    mismatches = []
    with loaded_model(llm_path, vocab_only=True) as (llama_cpp, model):
        for s in strings:
            ours, ref = tokenize(llama_cpp, model, s), reference_tokenize(sp, added, s)
            if ours != ref:
                mismatches.append({"text": s, "llama_cpp": ours[:24], "reference": ref[:24]})
    n_ok = len(strings) - len(mismatches)
    return Check("tokenizer: llama.cpp vs sentencepiece + added tokens", not mismatches,
                 f"{n_ok}/{len(strings)} identical", "all identical",
                 {"mismatches": mismatches[:20], "n_strings": len(strings), "n_added_tokens": len(added)})


def prompt_ids(tokenizer_model: Path, bos: int) -> list[list[int]]:
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


def gguf_logits(llm_path: Path, ids_list: list[list[int]]) -> np.ndarray:
    with loaded_model(llm_path) as (llama_cpp, model):
        return np.concatenate([all_logits(llama_cpp, model, ids) for ids in ids_list])


def check_logits(llm_path: Path, storage: str, refs: np.ndarray, ids_list: list[list[int]]) -> Check:
    """An unquantized (f32 / f16) LLM file against the f32 reference."""
    m = compare_logits(refs, gguf_logits(llm_path, ids_list))
    min_top1, max_kl = QUANTS[storage].reference_tolerance
    passed = m["top1"] >= min_top1 and m["mean_kl"] <= max_kl
    value = f"top-1 {m['top1']:.2%}, max|Δ| {m['max_abs']:.2e}, KL {m['mean_kl']:.2e}"
    return Check(f"LLM logits ({storage}, {refs.shape[0]} positions) vs reference", passed, value,
                 f"top-1 ≥ {min_top1:.0%}, KL ≤ {max_kl}", m)


def logit_checks(ckpt, llm_path: Path, manifest: dict, ref_logits: list, ids: list[list[int]],
                 status=lambda what: None) -> list[Check]:
    refs = np.concatenate(ref_logits)
    quant = manifest["quant"]
    if QUANTS[quant].unquantized:
        return [check_logits(llm_path, quant, refs, ids)]

    with tempfile.TemporaryDirectory(prefix="edgevlm-verify-") as tmp:
        status("LLM: rebuilding the unquantized GGUF from the checkpoint")
        unquantized, storage = rebuild_unquantized(ckpt, Path(tmp))
        checks = [check_logits(unquantized, storage, refs, ids)]
        identity = _quantized_identity(unquantized, llm_path, quant, manifest, Path(tmp), status)
        checks.append(identity)
        status(f"LLM: {quant} vs {storage} logits")
        m = compare_logits(gguf_logits(unquantized, ids), gguf_logits(llm_path, ids))
    checks.append(loss_check(quant, storage, m, quantizer_own=identity.passed is True))
    return checks


def loss_check(quant: str, storage: str, m: dict, quantizer_own: bool) -> Check:
    """The quantized file's loss against the unquantized one: judged only when it can show a fault of ours."""
    name, value = f"LLM {quant} loss vs the {storage} GGUF", f"top-1 {m['top1']:.2%}, KL {m['mean_kl']:.2e}"
    if quantizer_own:  # byte-identical to llama.cpp's quantization of the verified file: the quantizer's loss
        return Check(name, None, value, "reported: the tensors are llama.cpp's own quantization", m)
    bound = QUANTS[quant].kl_budget
    return Check(name, m["mean_kl"] <= bound, value, f"KL ≤ {bound}", m)


def _quantized_identity(unquantized: Path, llm_path: Path, quant: str, manifest: dict, tmp: Path,
                        status) -> Check:
    name = f"LLM {quant} file = llama.cpp's {quant} of the verified unquantized GGUF"
    if manifest.get("imatrix_sha256"):
        return Check(name, None, "not checked: converted with an importance matrix", "—", {})
    status(f"LLM: re-quantizing to {quant} (llama.cpp)")
    again = tmp / f"again-{quant}.gguf"
    quantize_gguf(unquantized, again, quant)
    differ = differing_tensors(llm_path, again)
    return Check(name, not differ, "identical tensors" if not differ else f"{len(differ)} tensor(s) differ",
                 "every tensor byte-identical", {"differing": differ[:20]})


def differing_tensors(a: Path, b: Path) -> list[str]:
    """Names of tensors whose type, shape or bytes differ between two GGUFs (metadata such as the name aside).
    The bytes are compared in chunks read from the files (not through the reader's memory map, whose touched
    pages would all count in the resident set: two 1.7B-shape GGUFs are GBs)."""
    ta = {t.name: (t.tensor_type, list(t.shape), int(t.data_offset), int(t.n_bytes)) for t in GGUFReader(a).tensors}
    tb = {t.name: (t.tensor_type, list(t.shape), int(t.data_offset), int(t.n_bytes)) for t in GGUFReader(b).tensors}
    out = sorted(set(ta) ^ set(tb))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for n in sorted(set(ta) & set(tb)):
            x, y = ta[n], tb[n]
            if x[:2] != y[:2] or x[3] != y[3] or not _same_bytes(fa, x[2], fb, y[2], x[3]):
                out.append(n)
    return out


def _same_bytes(fa, at_a: int, fb, at_b: int, n: int, chunk: int = 1 << 22) -> bool:
    fa.seek(at_a)
    fb.seek(at_b)
    while n > 0:
        step = min(chunk, n)
        if fa.read(step) != fb.read(step):
            return False
        n -= step
    return True
