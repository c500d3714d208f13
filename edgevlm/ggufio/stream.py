"""Streaming GGUF writing: header, KV and tensor infos first, then tensor data one tensor at a time.

gguf-py's `GGUFWriter.add_tensor` keeps every array until `write_tensors_to_file`; here each tensor is only
*declared* (`add_tensor_info`: shape, type, byte size), then produced and written by `write_tensor_data`
in declaration order, so at most one converted tensor is alive. No timestamps: bytes are deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFWriter

from edgevlm.files import atomic_output


@dataclass(frozen=True)
class PlannedTensor:
    name: str
    shape: tuple[int, ...]           # PyTorch order
    qtype: GGMLQuantizationType
    produce: Callable[[], np.ndarray]  # returns the stored array (f32/f16, or uint8 bytes for block types)

    @property
    def nbytes(self) -> int:
        block, size = GGML_QUANT_SIZES[self.qtype]
        numel = int(np.prod(self.shape)) if self.shape else 1
        return numel // block * size


_NP_TYPES = {GGMLQuantizationType.F32: np.float32, GGMLQuantizationType.F16: np.float16}


def write_gguf(path: Path, arch: str, add_kv: Callable[[GGUFWriter], None], tensors: Sequence[PlannedTensor],
               on_tensor: Callable[[PlannedTensor], None] = lambda t: None) -> None:
    """Write a complete GGUF at `path` (via a temp name): `add_kv(writer)` adds the metadata."""
    writer = GGUFWriter(path=None, arch=arch)
    add_kv(writer)
    for t in tensors:
        if t.qtype in _NP_TYPES:
            writer.add_tensor_info(t.name, t.shape, np.dtype(_NP_TYPES[t.qtype]), t.nbytes)
        else:
            block, size = GGML_QUANT_SIZES[t.qtype]
            byte_shape = (*t.shape[:-1], t.shape[-1] // block * size)
            writer.add_tensor_info(t.name, byte_shape, np.dtype(np.uint8), t.nbytes, raw_dtype=t.qtype)
    with atomic_output(path) as tmp:
        try:
            writer.open_output_file(tmp)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
            for t in tensors:
                arr = np.ascontiguousarray(t.produce())
                if arr.nbytes != t.nbytes:
                    raise AssertionError(f"{t.name}: produced {arr.nbytes} bytes, declared {t.nbytes}")
                writer.write_tensor_data(arr)
                on_tensor(t)
            writer.flush()
        finally:
            writer.close()
