"""Quantization types, the one table: what each `--quant` / `--mmproj-quant` name means and what it costs.

One row per type. A row says whether it is an LLM type (and its `llama_ftype` for llama.cpp's own
`llama_model_quantize`), whether it is an mmproj type (written by edgevlm's mmproj writer), whether edgevlm
writes it directly (unquantized: f32 / f16) or llama.cpp quantizes an unquantized intermediate, the bytes per
parameter convert plans free space with, and what verify accepts (unquantized: top-1 agreement and mean KL
against the f32 reference; quantized: mean KL against the unquantized file — what the type normally loses).
Adding a type = one row. A primitive: imports nothing.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quant:
    name: str                                   # as the options take it; file names carry name.upper()
    llm_ftype: int | None = None                # llama_ftype (include/llama.h at the pin); None: no LLM type
    llm_bytes_per_param: float = 0.0            # for the free-space plan of convert
    mmproj_bytes_per_param: float | None = None  # None: not an mmproj type
    unquantized: bool = False                   # written by edgevlm itself (no llama.cpp quantizer)
    reference_tolerance: tuple[float, float] | None = None   # unquantized: (min top-1, max mean KL) vs f32
    kl_budget: float | None = None              # quantized: max mean KL vs the unquantized GGUF


F32 = Quant("f32", llm_ftype=0, llm_bytes_per_param=4.0, mmproj_bytes_per_param=4, unquantized=True,
            reference_tolerance=(1.0, 1e-4))
F16 = Quant("f16", llm_ftype=1, llm_bytes_per_param=2.0, mmproj_bytes_per_param=2, unquantized=True,
            reference_tolerance=(0.99, 1e-3))
Q4_0 = Quant("q4_0", llm_ftype=2, llm_bytes_per_param=0.75, kl_budget=0.15)
# mmproj q8_0 keeps convs and vectors in f16 / f32: planned as 2 bytes a parameter
Q8_0 = Quant("q8_0", llm_ftype=7, llm_bytes_per_param=1.07, mmproj_bytes_per_param=2, kl_budget=0.01)
Q4_K_S = Quant("q4_k_s", llm_ftype=14, llm_bytes_per_param=0.75, kl_budget=0.15)
Q4_K_M = Quant("q4_k_m", llm_ftype=15, llm_bytes_per_param=0.75, kl_budget=0.15)

QUANTS = {q.name: q for q in (F32, F16, Q4_0, Q8_0, Q4_K_S, Q4_K_M)}
LLM_QUANTS = tuple(n for n, q in QUANTS.items() if q.llm_ftype is not None)
# smallest file first (stable: f16 before q8_0, as `--mmproj-quant` lists them)
MMPROJ_QUANTS = tuple(sorted((n for n, q in QUANTS.items() if q.mmproj_bytes_per_param is not None),
                             key=lambda n: QUANTS[n].mmproj_bytes_per_param))
UNQUANTIZED = tuple(n for n, q in QUANTS.items() if q.unquantized)
