"""Importance matrices for llama.cpp's quantizer.

The GGUF imatrix format (`<tensor>.in_sum2` and `<tensor>.counts`, written by llama-imatrix) is read here
and normalised exactly as tools/quantize/quantize.cpp does (sums / count per expert; count 0 → 1.0), then
handed to `llama_model_quantize` as its null-terminated `llama_model_imatrix_data` array. The legacy
`.dat` format is left to the pinned `llama-quantize --imatrix` binary (see edgevlm.quantize.run).
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
from gguf import GGUFReader

from edgevlm.errors import InputNotFound, InvalidCheckpoint

GGUF_MAGIC = b"GGUF"


def is_gguf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == GGUF_MAGIC


def load_gguf_imatrix(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InputNotFound(f"imatrix file {path} does not exist")
    try:
        reader = GGUFReader(path)
    except Exception as exc:  # gguf-py raises ValueError / struct errors on bad files
        raise InvalidCheckpoint(f"{path} is not a valid GGUF imatrix: {exc}") from exc
    sums, counts = {}, {}
    for t in reader.tensors:
        if t.name.endswith(".in_sum2"):
            sums[t.name.removesuffix(".in_sum2")] = np.asarray(t.data, dtype=np.float32).reshape(-1)
        elif t.name.endswith(".counts"):
            counts[t.name.removesuffix(".counts")] = np.asarray(t.data, dtype=np.float32).reshape(-1)
    if not sums or set(sums) != set(counts):
        raise InvalidCheckpoint(f"{path}: imatrix needs matching `.in_sum2` and `.counts` tensors")
    return {name: _normalise(sums[name], counts[name]) for name in sorted(sums)}


def _normalise(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    per_expert = sums.reshape(len(counts), -1).copy()
    for j, c in enumerate(np.rint(counts)):
        per_expert[j] = per_expert[j] / c if c > 0 else 1.0
    return per_expert.reshape(-1).astype(np.float32)


def to_ctypes(data: dict[str, np.ndarray], entry_type) -> tuple[ctypes.Array, list]:
    """A null-terminated array of `entry_type` (llama_model_imatrix_data) and the objects that keep it alive."""
    keep: list = []
    arr = (entry_type * (len(data) + 1))()
    for i, (name, values) in enumerate(data.items()):
        values = np.ascontiguousarray(values, dtype=np.float32)
        cname = ctypes.c_char_p(name.encode())
        keep += [values, cname]
        arr[i].name = cname.value
        arr[i].data = values.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        arr[i].size = values.size
    arr[len(data)].name = None
    return arr, keep
