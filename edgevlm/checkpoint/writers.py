"""Streaming checkpoint writers: one tensor in memory at a time, for any checkpoint size.

* ``pytorch_model.bin``: the zip format ``torch.save`` writes (``data.pkl`` + one record per storage,
  64-byte aligned, as torch does), assembled record by record, so ``torch.load(mmap=True,
  weights_only=True)`` reads it like any real checkpoint — but without holding the state dict in memory.
* ``model.safetensors``: the header is known from the specs, the tensors stream after it.
* sharded: ``pytorch_model-0000K-of-0000N.bin`` + ``pytorch_model.bin.index.json``.

A writer takes the list of (name, shape, dtype) and a ``produce(name) -> torch.Tensor`` callable; each tensor
is produced, written, and dropped. ``advance(nbytes)`` reports progress.
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ALIGN = 64


@dataclass(frozen=True)
class Entry:
    name: str
    shape: tuple[int, ...]
    dtype: str  # "float32" | "bfloat16" | "float16"

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * _ITEMSIZE[self.dtype]


_ITEMSIZE = {"float32": 4, "bfloat16": 2, "float16": 2}
_SAFETENSORS_DTYPE = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}
_TORCH_STORAGE = {"float32": "FloatStorage", "bfloat16": "BFloat16Storage", "float16": "HalfStorage"}

Produce = Callable[[str], "object"]
Advance = Callable[[int], None]


def tensor_bytes(tensor) -> memoryview:
    """Raw little-endian bytes of a contiguous CPU tensor (bf16 included: viewed as int16)."""
    import torch  # lazy: torch, heavy, optional

    t = tensor.detach().contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    return memoryview(t.numpy()).cast("B")


# --- safetensors -------------------------------------------------------------------------------------------

def write_safetensors(path: Path, entries: list[Entry], produce: Produce, advance: Advance) -> None:
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for e in entries:
        header[e.name] = {"dtype": _SAFETENSORS_DTYPE[e.dtype], "shape": list(e.shape),
                          "data_offsets": [offset, offset + e.nbytes]}
        offset += e.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the format pads the header so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for e in entries:
            f.write(tensor_bytes(produce(e.name)))
            advance(e.nbytes)


# --- torch.save zip format ---------------------------------------------------------------------------------

class _StorageRef:
    def __init__(self, key: str, entry: Entry):
        self.key, self.entry = key, entry


class _TensorRef:
    """Pickles exactly as torch pickles a tensor: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage: _StorageRef):
        self.storage = storage

    def __reduce_ex__(self, protocol):
        import torch._utils  # lazy: torch, heavy, optional

        shape = self.storage.entry.shape
        stride, acc = [], 1
        for d in reversed(shape):
            stride.insert(0, acc)
            acc *= d
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, 0, tuple(shape), tuple(stride), False, collections.OrderedDict()))


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            import torch  # lazy: torch, heavy, optional

            storage_class = getattr(torch, _TORCH_STORAGE[obj.entry.dtype])
            return ("storage", storage_class, obj.key, "cpu", obj.entry.numel)
        return None


def state_dict_pickle(entries: list[Entry]) -> bytes:
    refs = {e.name: _TensorRef(_StorageRef(str(i), e)) for i, e in enumerate(entries)}
    buf = io.BytesIO()
    _TorchPickler(buf, protocol=2).dump(refs)
    return buf.getvalue()


class _AlignedZip:
    """zipfile, stored, fixed timestamps, every record's data 64-byte aligned (torch pads the same way)."""

    def __init__(self, path: Path):
        self.zf = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True)

    def record(self, name: str, chunks, size: int) -> None:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.file_size = size
        zip64 = size * 1.05 > zipfile.ZIP64_LIMIT
        start = self.zf.fp.tell() + 30 + len(name.encode()) + 4 + (20 if zip64 else 0)
        pad = -start % ALIGN
        info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB" padding field, as torch writes
        with self.zf.open(info, "w", force_zip64=zip64) as out:
            for chunk in chunks:
                out.write(chunk)

    def small(self, name: str, data: bytes) -> None:
        self.record(name, [data], len(data))

    def close(self) -> None:
        self.zf.close()


def write_torch_bin(path: Path, entries: list[Entry], produce: Produce, advance: Advance) -> None:
    archive = Path(path).stem  # torch names the folder inside the zip after the file
    z = _AlignedZip(path)
    try:
        z.small(f"{archive}/data.pkl", state_dict_pickle(entries))
        z.small(f"{archive}/.format_version", b"1")
        z.small(f"{archive}/.storage_alignment", str(ALIGN).encode())
        z.small(f"{archive}/byteorder", b"little")
        for i, e in enumerate(entries):
            z.record(f"{archive}/data/{i}", [tensor_bytes(produce(e.name))], e.nbytes)
            advance(e.nbytes)
        z.small(f"{archive}/version", b"3\n")
        ident = int(hashlib.sha256("\n".join(e.name for e in entries).encode()).hexdigest()[:32], 16)
        z.small(f"{archive}/.data/serialization_id", str(ident).zfill(40)[:40].encode())
    finally:
        z.close()


# --- sharded -----------------------------------------------------------------------------------------------

def plan_shards(entries: list[Entry], shard_bytes: int) -> list[list[Entry]]:
    """Greedy in-order split; a tensor larger than a shard gets a shard of its own (as transformers does)."""
    shards: list[list[Entry]] = [[]]
    size = 0
    for e in entries:
        if shards[-1] and size + e.nbytes > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(e)
        size += e.nbytes
    return shards


def write_sharded_bin(out_dir: Path, entries: list[Entry], produce: Produce, advance: Advance,
                      shard_bytes: int) -> None:
    shards = plan_shards(entries, shard_bytes)
    weight_map = {}
    for k, shard in enumerate(shards, start=1):
        name = f"pytorch_model-{k:05d}-of-{len(shards):05d}.bin"
        write_torch_bin(Path(out_dir) / name, shard, produce, advance)
        weight_map.update({e.name: name for e in shard})
    index = {"metadata": {"total_size": sum(e.nbytes for e in entries)}, "weight_map": weight_map}
    (Path(out_dir) / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2) + "\n")


def parse_size(text: str) -> int:
    """'2GB', '500MB', '1.5GiB', '123' → bytes (decimal units as transformers' max_shard_size)."""
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
    s = text.strip().upper()
    num = s.rstrip("KMGIB")
    try:
        value = float(num) * units[s[len(num):]]
    except (ValueError, KeyError):
        raise ValueError(f"cannot read size {text!r}; use e.g. 2GB, 500MB, 1GiB") from None
    if value < 1:
        raise ValueError(f"size {text!r} must be positive")
    return int(value)
