"""A target-first tensor table: each GGUF tensor names its one source tensor, a transform and the shapes.

Transforms are small named functions so a table reads like documentation and two tables never disagree
about what "permute" means. Shapes are in PyTorch order (GGUF stores them reversed: ne[0] is the last dim).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import torch

# how a tensor is stored: "matrix" (f16/f32/quantizable), "embedding" (f16/f32, never block-quantized),
# "conv" (always f16: ggml's im2col makes f16 columns, and a f32 kernel × f16 columns matmul has no CPU kernel),
# "vector" (f32)
KINDS = ("matrix", "embedding", "conv", "vector")


@dataclass(frozen=True)
class Transform:
    name: str
    apply: Callable[["torch.Tensor"], "torch.Tensor"]
    out_shape: Callable[[tuple[int, ...]], tuple[int, ...]]


def identity() -> Transform:
    return Transform("identity", lambda t: t, lambda s: s)


def rope_permute(n_head: int) -> Transform:
    """HF → GGUF rotary row order for Q/K (as llama.cpp's converters do): HF keeps the two rotary halves of
    each head apart (rotate_half), ggml's NORM rope rotates adjacent pairs; interleave the halves per head."""
    def apply(t):
        rows = t.shape[0]
        return (t.reshape(n_head, 2, rows // n_head // 2, *t.shape[1:]).swapaxes(1, 2).reshape(t.shape))
    return Transform(f"rope_permute({n_head})", apply, lambda s: s)


def squeeze_conv() -> Transform:
    """Drop the singleton dims of a conv kernel: depthwise (C,1,3,3) → (C,3,3); pointwise (O,I,1,1) → (O,I)."""
    def out_shape(s):
        return tuple(d for i, d in enumerate(s) if not (d == 1 and i > 0))
    return Transform("squeeze", lambda t: t.reshape(out_shape(tuple(t.shape))), out_shape)


@dataclass(frozen=True)
class TensorSpec:
    target: str
    source: str
    shape: tuple[int, ...]     # expected source shape
    kind: str                  # one of KINDS
    transform: Transform = field(default_factory=identity)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return self.transform.out_shape(self.shape)


@dataclass(frozen=True)
class Table:
    """The tensors of one GGUF file plus the source names it knowingly leaves out (regex, full match)."""
    specs: tuple[TensorSpec, ...]
    ignored: tuple[str, ...] = ()

    def is_ignored(self, name: str) -> bool:
        return any(re.fullmatch(p, name) for p in self.ignored)
