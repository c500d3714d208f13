"""The DRAM term of the device prediction: bytes a stage must bring from memory, over a sustained bandwidth.

Why: llvm-mca charges every load as an L1 hit, so the cycle model alone predicts the Snapdragon 888 4-6x too
fast (benchmarks/results/arm-cost.md). Per stage, the bytes that cannot stay in the caches (SD888: 1 MB L2 on
the X1, 512 KB on each A78, 4 MB shared L3, 3 MB system cache) are:
* decode, per token: every LLM weight but the token embeddings (one row is read), from the GGUF's tensor
  sizes, plus the KV cache read at the token's context length (f16 K and V, every layer);
* prefill, per token: the weights once per batch (the whole prompt is one batch of <= 512 tokens), so weights /
  batch tokens, plus the token's K and V written;
* a ViT layer: its weights (GGUF tensor sizes) plus its f32 activations, which exceed the caches (577 x 1024 x 4
  = 2.4 MB per 1024-wide tensor, 9.5 MB per 4096-wide one): ACT_1024 tensor passes of the width and ACT_FFN
  passes of the FFN width (a pass = one write or one read of the whole tensor; counted for a pre-LN CLIP layer:
  LN in/out, Q K V out, attention in/out, projection out, residual add, LN, FC1 in, FC2 out, residual; FC1 out,
  GELU in/out, FC2 in). Attention scores are not counted: both tools tile them (flash attention / edgevlm's
  per-tile kernel) so they stay in L1/L2;
* the projector: its weights plus its activations at the same count.
Time of a stage = max(compute, bytes / bandwidth): the cores' prefetchers stream weights while the FMAs run
(roofline). The sum is reported beside it as the no-overlap bound.
Bandwidth: 51.2 GB/s peak (LPDDR5-6400, 4 x 16-bit channels: Qualcomm's SD888 specification, tabled in
AnandTech's "The Snapdragon 888 vs The Exynos 2100", A. Frumusanu, 8 Feb 2021). Sustained: half of it,
25.6 GB/s — the low end of the 50-85 % of peak that issue 17 quotes for tuned LLM decode engines on phones. No
STREAM measurement of an SD888's big-core cluster was reachable from this project, so the sustained figure is
a bracket's end, not a measurement; it was NOT fitted to llama.cpp's published SD888 figures (those stay the
sanity check: their decode uses ~22 % of peak).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gguf import GGUFReader

PEAK_BW = 51.2e9
SUSTAINED_BW = 0.5 * PEAK_BW
ACT_1024 = 12            # passes over width-wide f32 tensors per ViT layer (list above)
ACT_FFN = 3              # passes over FFN-wide f32 tensors per ViT layer
F32, F16 = 4, 2


@dataclass(frozen=True)
class GgufBytes:
    per_layer: float         # blk.N.* tensors, per stored layer
    fixed: float             # everything else but the token embeddings
    token_embd: float


def gguf_bytes(path: Path, layers_in_file: int) -> GgufBytes:
    """Tensor bytes of a GGUF (LLM or mmproj): per layer (blk.* / v.blk.*), the rest, the token embeddings."""
    per_layer = fixed = embd = 0
    for t in GGUFReader(str(path)).tensors:
        if t.name.startswith(("blk.", "v.blk.")):
            per_layer += int(t.n_bytes)
        elif t.name == "token_embd.weight":
            embd += int(t.n_bytes)
        else:
            fixed += int(t.n_bytes)
    return GgufBytes(per_layer / max(layers_in_file, 1), fixed, embd)


def kv_bytes_per_position(layers: int, width: int) -> float:
    """K and V of one position in every layer, f16 (llama.cpp's default cache type)."""
    return 2 * layers * width * F16


def vit_layer_bytes(weights: float, positions: int, width: int, ffn: int) -> float:
    return weights + F32 * positions * (ACT_1024 * width + ACT_FFN * ffn)


def stage_seconds(compute_s: float, nbytes: float, bandwidth: float = SUSTAINED_BW) -> dict[str, float]:
    """A stage's time with the memory term: roofline max (the prediction) and the no-overlap sum."""
    memory_s = nbytes / bandwidth
    return {"compute_s": compute_s, "memory_s": memory_s, "max_s": max(compute_s, memory_s),
            "sum_s": compute_s + memory_s}
