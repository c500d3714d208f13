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
    """Read one source tensor, apply its transform, convert it to `qtype`, and release the source pages.

    Conversions run in torch (vectorised, multi-threaded; numpy's f32→f16 is several times slower)."""
    import torch  # lazy: torch, heavy, optional

    src = ckpt.get(spec.source)
    try:
        target = torch.float16 if qtype == F16 else torch.float32
        if qtype == F16:
            _check_f16_range(src, spec.target)
        # an own copy in the stored precision: the source pages go back to the kernel below
        t = spec.transform.apply(src.to(target, copy=True)).contiguous()
    finally:
        ckpt.release(spec.source, src)
    arr = t.numpy()
    return arr if qtype in (F16, F32) else gquants.quantize(arr, qtype)


def _check_f16_range(src, name: str) -> None:
    peak = float(src.abs().max()) if src.numel() else 0.0
    if not np.isfinite(peak) or peak > _F16_MAX:
        raise UnsupportedModel(f"{name} holds values beyond float16's range (max |x| = {peak:g})",
                               hint="convert with --quant f32 / --mmproj-quant f32")
