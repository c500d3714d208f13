"""Crafting hostile GGUF files from real ones, byte for byte: a tensor's dimensions rewritten in its header
entry (same count, same byte size, so every offset stays valid), or a header value replaced in place."""
from __future__ import annotations

import struct
from pathlib import Path


def _tensor_dims_at(data: bytes, name: str) -> tuple[int, int]:
    """(offset of the uint32 n_dims, n_dims) of NAME's tensor-info entry."""
    raw = name.encode()
    entry = struct.pack("<Q", len(raw)) + raw
    at = data.find(entry)
    while at >= 0:
        pos = at + len(entry)
        n_dims = struct.unpack_from("<I", data, pos)[0]
        if 1 <= n_dims <= 4:
            return pos, n_dims
        at = data.find(entry, at + 1)
    raise KeyError(f"no tensor-info entry for {name}")


def tensor_dims(path: Path, name: str) -> list[int]:
    data = Path(path).read_bytes()
    pos, n = _tensor_dims_at(data, name)
    return list(struct.unpack_from(f"<{n}Q", data, pos + 4))


def with_dims(src: Path, dst: Path, name: str, dims: list[int]) -> Path:
    """A copy of SRC whose tensor NAME claims DIMS (same number of dimensions)."""
    data = bytearray(Path(src).read_bytes())
    pos, n = _tensor_dims_at(bytes(data), name)
    if len(dims) != n:
        raise ValueError(f"{name} has {n} dims, got {dims}")
    struct.pack_into(f"<{n}Q", data, pos + 4, *dims)
    Path(dst).write_bytes(bytes(data))
    return Path(dst)
