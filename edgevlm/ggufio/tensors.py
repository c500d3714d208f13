"""From a source tensor to the array stored in the GGUF: transform, then f32 / f16 / q8_0."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf import quants as gquants

from edgevlm.errors import UnsupportedModel
from edgevlm.mapping.spec import TensorSpec

if TYPE_CHECKING:
    from edgevlm.checkpoint.reader import Checkpoint

F32, F16, Q8_0 = GGMLQuantizationType.F32, GGMLQuantizationType.F16, GGMLQuantizationType.Q8_0
_F16_MAX = 65504.0


def block_fits(qtype: GGMLQuantizationType, shape: tuple[int, ...]) -> bool:
    return shape[-1] % GGML_QUANT_SIZES[qtype][0] == 0


def load_converted(ckpt: Checkpoint, spec: TensorSpec, qtype: GGMLQuantizationType) -> np.ndarray:
    """Read one source tensor, apply its transform, convert it to `qtype`, and release the source pages."""
    import torch

    src = ckpt.get(spec.source)
    try:
        t = spec.transform.apply(src.to(torch.float32, copy=True))  # own copy: the source pages go back
        arr = t.contiguous().numpy()
    finally:
        ckpt.release(spec.source, src)
    return encode(arr, qtype, spec.target)


def encode(arr: np.ndarray, qtype: GGMLQuantizationType, name: str) -> np.ndarray:
    if qtype == F32:
        return arr.astype(np.float32, copy=False)
    if qtype == F16:
        peak = float(np.abs(arr).max()) if arr.size else 0.0
        if not np.isfinite(peak) or peak > _F16_MAX:
            raise UnsupportedModel(f"{name} holds values beyond float16's range (max |x| = {peak:g})",
                                   hint="convert with --quant f32 / --mmproj-quant f32")
        return arr.astype(np.float16)
    return gquants.quantize(arr.astype(np.float32, copy=False), qtype)
