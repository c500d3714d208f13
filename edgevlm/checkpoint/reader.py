"""Lazy, read-only access to a checkpoint's tensors: names, shapes and dtypes without loading, data one at a time.

Formats: ``pytorch_model.bin`` (zip pickle, ``torch.load(mmap=True, weights_only=True)``), ``*.safetensors``
(header parsed here, each tensor read with a plain seek/read), and sharded checkpoints with a
``*.index.json`` (either format). A pickle that tries to run code is refused (weights_only), truncated or
corrupt files and missing shards raise ``InvalidCheckpoint``. Nothing is ever written into the folder.

Memory: safetensors data goes through the page cache, never into a mapping of ours; for ``.bin`` files the
pages of a memory-mapped tensor are handed back to the kernel (``madvise(MADV_DONTNEED)``) by ``release()``
once the caller is done with it, so the resident set stays at a few tensors, not the checkpoint size.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import mmap
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from edgevlm.checkpoint.config import MobileVLMConfig
from edgevlm.errors import InputNotFound, InvalidCheckpoint

if TYPE_CHECKING:
    import torch

_ST_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
              "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}
_ST_ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                "BOOL": 1}


@dataclass(frozen=True)
class TensorMeta:
    name: str
    shape: tuple[int, ...]
    dtype: str  # torch dtype name without the "torch." prefix
    file: str   # the weight file (relative to the checkpoint folder) that holds it


# --- one weight file ----------------------------------------------------------------------------------------

class _SafetensorsFile:
    """A safetensors file: the JSON header up front, each tensor read on demand (no mmap kept)."""

    def __init__(self, path: Path, rel: str):
        self.path, self.rel = path, rel
        self.entries = self._parse_header()

    def _parse_header(self) -> dict[str, tuple[str, tuple[int, ...], int, int]]:
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise InvalidCheckpoint(f"{self.rel} is truncated (no safetensors header)")
            (n,) = struct.unpack("<Q", head)
            if n > size - 8:
                raise InvalidCheckpoint(f"{self.rel} is truncated or not a safetensors file (header length {n})")
            try:
                header = json.loads(f.read(n))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidCheckpoint(f"{self.rel} has a corrupt safetensors header: {exc}") from exc
        data_start, entries = 8 + n, {}
        if not isinstance(header, dict):
            raise InvalidCheckpoint(f"{self.rel} has a corrupt safetensors header")
        for name, info in header.items():
            if name == "__metadata__":
                continue
            try:
                dt, shape, (begin, end) = info["dtype"], tuple(int(x) for x in info["shape"]), info["data_offsets"]
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidCheckpoint(f"{self.rel}: corrupt header entry for {name}") from exc
            if dt not in _ST_DTYPES:
                raise InvalidCheckpoint(f"{self.rel}: tensor {name} has unsupported dtype {dt}")
            numel = 1
            for d in shape:
                numel *= d
            if end - begin != numel * _ST_ITEMSIZE[dt] or data_start + end > size:
                raise InvalidCheckpoint(f"{self.rel} is truncated or corrupt: tensor {name} lies outside the file",
                                        hint="re-download the checkpoint")
            entries[name] = (dt, shape, data_start + begin, end - begin)
        return entries

    def metas(self) -> Iterator[TensorMeta]:
        for name, (dt, shape, _, _) in self.entries.items():
            yield TensorMeta(name, shape, _ST_DTYPES[dt], self.rel)

    def get(self, name: str) -> torch.Tensor:
        import torch

        dt, shape, offset, nbytes = self.entries[name]
        buf = bytearray(nbytes)
        with open(self.path, "rb") as f:
            f.seek(offset)
            if f.readinto(buf) != nbytes:
                raise InvalidCheckpoint(f"{self.rel} is truncated (tensor {name})")
        if nbytes == 0:
            return torch.empty(shape, dtype=getattr(torch, _ST_DTYPES[dt]))
        return torch.frombuffer(buf, dtype=getattr(torch, _ST_DTYPES[dt])).reshape(shape)

    def release(self, tensor: torch.Tensor) -> None:  # data is a private copy: nothing mapped to hand back
        pass


class _TorchBinFile:
    """A torch.save zip: loaded memory-mapped with weights_only=True (no code runs), pages released after use."""

    def __init__(self, path: Path, rel: str):
        self.path, self.rel = path, rel
        self.state = self._load()

    def _load(self) -> dict:
        import torch

        try:
            try:
                obj = torch.load(self.path, map_location="cpu", mmap=True, weights_only=True)
            except RuntimeError as exc:
                if "zipfile" not in str(exc) and "_use_new_zipfile_serialization" not in str(exc):
                    raise
                # legacy (pre-1.6) torch.save format cannot be mapped: read it whole, still weights_only
                obj = torch.load(self.path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise InvalidCheckpoint(
                f"{self.rel} holds a pickle that does not only contain tensors (it would run code); refused",
                hint="only load checkpoints from sources you trust; convert it to safetensors") from exc
        except (RuntimeError, EOFError, OSError, ValueError, struct.error) as exc:
            raise InvalidCheckpoint(f"{self.rel} is truncated or corrupt: {str(exc).splitlines()[0]}",
                                    hint="re-download the checkpoint") from exc
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
        if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise InvalidCheckpoint(f"{self.rel} does not hold a state dict of tensors")
        return obj

    def metas(self) -> Iterator[TensorMeta]:
        for name, t in self.state.items():
            yield TensorMeta(name, tuple(t.shape), str(t.dtype).removeprefix("torch."), self.rel)

    def get(self, name: str) -> torch.Tensor:
        return self.state[name]

    def release(self, tensor: torch.Tensor) -> None:
        _drop_pages(tensor)


_MADV_DONTNEED = 4


def _drop_pages(tensor: torch.Tensor) -> None:
    """Hand the pages of a memory-mapped (never written) tensor back to the kernel; they refault from the file."""
    storage = tensor.untyped_storage()
    start, nbytes = storage.data_ptr(), storage.nbytes()
    if nbytes < mmap.PAGESIZE or not start:
        return
    page = mmap.PAGESIZE
    lo, hi = (start + page - 1) // page * page, (start + nbytes) // page * page
    if hi > lo:
        ctypes.CDLL(None).madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), _MADV_DONTNEED)


# --- the checkpoint -----------------------------------------------------------------------------------------

class Checkpoint:
    """A checkpoint folder: typed config, tensor metadata, lazy tensor data."""

    def __init__(self, path: Path, config: MobileVLMConfig, files: dict, metas: dict[str, TensorMeta]):
        self.path = path
        self.config = config
        self._files = files
        self._metas = metas

    @property
    def config_sha256(self) -> str:
        return hashlib.sha256((self.path / "config.json").read_bytes()).hexdigest()

    @property
    def tokenizer_model(self) -> Path | None:
        p = self.path / "tokenizer.model"
        return p if p.is_file() else None

    def names(self) -> list[str]:
        return list(self._metas)

    def meta(self, name: str) -> TensorMeta:
        return self._metas[name]

    def get(self, name: str) -> torch.Tensor:
        return self._files[self._metas[name].file].get(name)

    def release(self, name: str, tensor: torch.Tensor) -> None:
        self._files[self._metas[name].file].release(tensor)


def open_checkpoint(source: str | os.PathLike) -> Checkpoint:
    """Open a local checkpoint folder, or a Hugging Face repo id (downloaded; honours HF_HUB_OFFLINE)."""
    path = _resolve(source)
    config = MobileVLMConfig.load(path)
    files: dict = {}
    metas: dict[str, TensorMeta] = {}
    for rel, names in _weight_files(path).items():
        wf = _open_file(path / rel, rel)
        files[rel] = wf
        for m in wf.metas():
            if names is not None and m.name not in names:
                continue  # a shard may hold tensors its index assigns elsewhere; the index wins
            if m.name in metas:
                raise InvalidCheckpoint(f"tensor {m.name} appears in both {metas[m.name].file} and {rel}")
            metas[m.name] = m
        if names is not None:
            lost = sorted(set(names) - {m.name for m in wf.metas()})
            if lost:
                raise InvalidCheckpoint(f"{rel} lacks {len(lost)} tensor(s) its index names: {', '.join(lost[:8])}")
    return Checkpoint(path, config, files, metas)


def _resolve(source: str | os.PathLike) -> Path:
    p = Path(source).expanduser()
    if p.exists():
        if not p.is_dir():
            raise InputNotFound(f"{p} is not a folder", hint="point at a checkpoint folder (config.json + weights)")
        return p.resolve()
    text = str(source)
    if _looks_like_repo_id(text):
        return _download(text)
    raise InputNotFound(f"checkpoint folder {p} does not exist",
                        hint="give a local folder or a Hugging Face repo id like mtgv/MobileVLM_V2-1.7B")


def _looks_like_repo_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(parts) and not text.startswith((".", "/", "~"))


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise InputNotFound(f"{repo_id} is not a local folder and huggingface_hub is not installed") from exc
    patterns = ["*.json", "*.model", "*.safetensors", "*.bin", "*.txt"]
    # read HF_HUB_OFFLINE now, not when huggingface_hub was first imported
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=offline))
    except LocalEntryNotFoundError as exc:
        raise InputNotFound(f"{repo_id} is not in the local Hugging Face cache and downloads are off "
                            "(HF_HUB_OFFLINE)", hint="unset HF_HUB_OFFLINE or pass a local folder") from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise InputNotFound(f"could not download {repo_id}: {str(exc).splitlines()[0]}") from exc


def _weight_files(path: Path) -> dict[str, set[str] | None]:
    """Weight file (relative name) → the tensor names the index assigns to it (None: the whole file)."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = path / index_name
        if index.is_file():
            return _from_index(path, index)
    for single in ("model.safetensors", "pytorch_model.bin"):
        if (path / single).is_file():
            return {single: None}
    raise InvalidCheckpoint(f"no weights in {path}",
                            hint="expected pytorch_model.bin, model.safetensors or a sharded *.index.json")


def _from_index(path: Path, index: Path) -> dict[str, set[str] | None]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        assert isinstance(weight_map, dict)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AssertionError) as exc:
        raise InvalidCheckpoint(f"{index.name} is not a valid shard index (needs a `weight_map` object)") from exc
    by_file: dict[str, set[str] | None] = {}
    for name, rel in weight_map.items():
        by_file.setdefault(rel, set()).add(name)
    missing = sorted(rel for rel in by_file if not (path / rel).is_file())
    if missing:
        raise InvalidCheckpoint(f"{index.name} names shard(s) that are missing: {', '.join(missing)}",
                                hint="download every shard listed in the index")
    return dict(sorted(by_file.items()))


def _open_file(path: Path, rel: str):
    if rel.endswith(".safetensors"):
        return _SafetensorsFile(path, rel)
    if rel.endswith(".bin") or rel.endswith(".pt"):
        return _TorchBinFile(path, rel)
    raise InvalidCheckpoint(f"{rel}: unknown weight file format (expected .safetensors or .bin)")
