"""Lazy, read-only access to a checkpoint's tensors: names, shapes and dtypes without loading, data one at a time.

Formats: ``pytorch_model.bin`` (zip pickle, ``torch.load(mmap=True, weights_only=True)``), ``*.safetensors``
(through the ``safetensors`` library), and sharded checkpoints with a
``*.index.json`` (either format). A pickle that tries to run code is refused (weights_only), truncated or
corrupt files and missing shards raise ``InvalidCheckpoint``. Nothing is ever written into the folder.

Memory: safetensors data goes through the page cache, never into a mapping of ours; for ``.bin`` files the
pages of a memory-mapped tensor are handed back to the kernel (``madvise(MADV_DONTNEED)``) by ``release()``
once the caller is done with it, so the resident set stays at a few tensors, not the checkpoint size.
"""
from __future__ import annotations

import ctypes
import json
import mmap
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from safetensors import SafetensorError, safe_open

from edgevlm.checkpoint.config import MobileVLMConfig
from edgevlm.checkpoint.keys import CLIP_TOWER_PREFIX, CLIP_TOWER_TOP_LEVEL, TOWER_PREFIX
from edgevlm.checkpoint.tower import _offline, hf_cache_dir, looks_like_path, with_weights
from edgevlm.errors import InputNotFound, InvalidCheckpoint
from edgevlm.hashing import sha256_file

if TYPE_CHECKING:
    import torch

# safetensors dtype names (as the library reports them) → torch dtype names
_ST_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64",
              "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}


@dataclass(frozen=True)
class TensorMeta:
    name: str
    shape: tuple[int, ...]
    dtype: str  # torch dtype name without the "torch." prefix
    file: str   # the weight file (relative to the checkpoint folder, or a tower folder's file) that holds it
    key: str = ""  # the name inside that file when it differs (a separate CLIP tower's `vision_model.*`)

    @property
    def stored_name(self) -> str:
        return self.key or self.name


# --- one weight file ----------------------------------------------------------------------------------------

class _SafetensorsFile:
    """A safetensors file, read through the `safetensors` library: names and shapes from its header, each
    tensor copied out of a mapping that is closed again right away (so no checkpoint pages stay resident)."""

    def __init__(self, path: Path, rel: str):
        self.path, self.rel = path, rel
        self.entries = self._read_header()

    def _open(self):
        return safe_open(str(self.path), framework="pt")

    def _read_header(self) -> dict[str, tuple[str, tuple[int, ...]]]:
        try:
            with self._open() as f:
                entries = {}
                for name in f.keys():
                    sl = f.get_slice(name)
                    entries[name] = (sl.get_dtype(), tuple(int(d) for d in sl.get_shape()))
        except SafetensorError as exc:
            raise _safetensors_error(self.rel, exc) from exc
        except OSError as exc:
            raise InvalidCheckpoint(f"cannot read {self.rel}: {exc.strerror or exc}") from exc
        for name, (dt, _) in entries.items():
            if dt not in _ST_DTYPES:
                raise InvalidCheckpoint(f"{self.rel}: tensor {name} has unsupported dtype {dt}")
        return entries

    def metas(self) -> Iterator[TensorMeta]:
        for name, (dt, shape) in self.entries.items():
            yield TensorMeta(name, shape, _ST_DTYPES[dt], self.rel)

    def get(self, name: str) -> torch.Tensor:
        try:
            with self._open() as f:
                return f.get_tensor(name).clone()  # our own copy: the mapping closes with the handle
        except SafetensorError as exc:
            raise _safetensors_error(self.rel, exc) from exc

    def release(self, tensor: torch.Tensor) -> None:  # data is a private copy: nothing mapped to hand back
        pass


def _first_line(exc: BaseException) -> str:
    """An exception's first line, or its type when its text is empty (an empty file's EOFError has none)."""
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def _safetensors_error(rel: str, exc: Exception) -> InvalidCheckpoint:
    text = str(exc)
    if "not fully covered" in text or "incomplete" in text.lower() or "too small" in text.lower():
        return InvalidCheckpoint(f"{rel} is truncated ({text})", hint="re-download the checkpoint")
    return InvalidCheckpoint(f"{rel} has a corrupt safetensors header: {text}", hint="re-download the checkpoint")


class _TorchBinFile:
    """A torch.save zip: loaded memory-mapped with weights_only=True (no code runs), pages released after use."""

    def __init__(self, path: Path, rel: str):
        self.path, self.rel = path, rel
        self.state = self._load()

    def _load(self) -> dict:
        import torch  # lazy: torch, heavy, optional

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
            raise InvalidCheckpoint(f"{self.rel} is truncated or corrupt: {_first_line(exc)}",
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
    """A checkpoint folder: typed config, tensor metadata, lazy tensor data (tower weights possibly apart)."""

    def __init__(self, path: Path, config: MobileVLMConfig, files: dict, metas: dict[str, TensorMeta],
                 tower_weights: str | None = None):
        self.path = path
        self.config = config
        self._files = files
        self._metas = metas
        self.tower_weights = tower_weights  # where the CLIP tower's weights come from (None: no tower)

    @property
    def config_sha256(self) -> str:
        return sha256_file(self.path / "config.json")

    @property
    def tokenizer_model(self) -> Path | None:
        p = self.path / "tokenizer.model"
        return p if p.is_file() else None

    def names(self) -> list[str]:
        return list(self._metas)

    def meta(self, name: str) -> TensorMeta:
        return self._metas[name]

    def get(self, name: str) -> torch.Tensor:
        m = self._metas[name]
        return self._files[m.file].get(m.stored_name)

    def release(self, name: str, tensor: torch.Tensor) -> None:
        self._files[self._metas[name].file].release(tensor)


def open_checkpoint(source: str | os.PathLike, vision_tower: str | os.PathLike | None = None) -> Checkpoint:
    """Open a local checkpoint folder, or a Hugging Face repo id (downloaded; honours HF_HUB_OFFLINE).

    `vision_tower` (``--vision-tower``) overrides where the CLIP tower is described; when the checkpoint
    holds no tower weights they come from that same place (a CLIP checkpoint's ``vision_model.*``)."""
    path = _resolve(source)
    config = MobileVLMConfig.load(path, vision_tower)
    _check_side_files(path)
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
    tower_weights = _add_tower_weights(config, files, metas) if config.is_multimodal else None
    _check_layer_counts(config, metas)
    return Checkpoint(path, config, files, metas, tower_weights)


# JSON files beside the weights that the tokenizer readers (gguf-py's SpecialVocab, transformers) take as objects
_SIDE_JSON = ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.json")
_TOKEN_FLAGS = ("add_bos_token", "add_eos_token")


def _check_side_files(path: Path) -> None:
    """Each side JSON file that exists is a UTF-8 JSON object, its add_bos/add_eos flags true/false: checked
    here once, so no reader downstream ends in a traceback on a binary or list-valued file."""
    for name in _SIDE_JSON:
        f = path / name
        if not f.is_file():
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, RecursionError, json.JSONDecodeError) as exc:
            raise InvalidCheckpoint(f"{name} is not readable JSON ({_first_line(exc)[:120]})",
                                    hint="re-download the checkpoint's tokenizer files") from None
        if not isinstance(data, dict):
            raise InvalidCheckpoint(f"{name} holds a JSON {type(data).__name__}, not an object",
                                    hint="re-download the checkpoint's tokenizer files")
        for flag in _TOKEN_FLAGS:
            if flag in data and not isinstance(data[flag], bool):
                raise InvalidCheckpoint(f"{name}: {flag} must be true or false, got {str(data[flag])[:40]}")


def _check_layer_counts(config: MobileVLMConfig, metas: dict[str, TensorMeta]) -> None:
    """config.json's layer counts against the layers the weights hold, before anything is sized by them (a
    num_hidden_layers of 10**12 would otherwise build a table of 10**12 layers)."""
    counts = [("num_hidden_layers", config.llm.num_hidden_layers, "model.layers.", "decoder")]
    if config.is_multimodal and config.vision is not None:
        counts.append(("vision num_hidden_layers", config.vision.num_hidden_layers, TOWER_PREFIX + "encoder.layers.",
                       "vision encoder"))
    for key, said, prefix, what in counts:
        present = {n[len(prefix):].split(".", 1)[0] for n in metas if n.startswith(prefix)}
        if said != len(present) or present != {str(i) for i in range(len(present))}:
            raise InvalidCheckpoint(f"config.json says {key} = {str(said)[:24]}, the weights hold {len(present)} "
                                    f"{what} layer(s)", hint="is this the config.json of these weights?")


def _add_tower_weights(config: MobileVLMConfig, files: dict, metas: dict[str, TensorMeta]) -> str:
    """Where the tower's weights come from; adds a separate CLIP checkpoint's tensors under MobileVLM's names."""
    if any(n.startswith(TOWER_PREFIX) for n in metas):
        folder = config.tower.folder if config.tower is not None else None
        also = f" (the tower folder {folder} has weights too; the checkpoint's own were used, as MobileVLM's " \
               "from_pretrained loads them over the tower's)" if config.tower.weight_file() else ""
        return "checkpoint" + also
    tower = with_weights(config.tower)
    weights = tower.weight_file()
    wf = _open_file(weights, str(weights))
    files[str(weights)] = wf
    for m in wf.metas():
        name = _canonical_tower_name(m.name)
        if name is not None:
            metas[name] = TensorMeta(name, m.shape, m.dtype, str(weights), key=m.name)
    return f"tower folder: {weights}"


def _canonical_tower_name(key: str) -> str | None:
    """A CLIP checkpoint key → MobileVLM's name for it; None for the text tower and the projections."""
    if key.startswith(CLIP_TOWER_PREFIX):
        return TOWER_PREFIX + key[len(CLIP_TOWER_PREFIX):]
    if key.startswith(CLIP_TOWER_TOP_LEVEL):  # CLIPVisionModel saved by transformers 5.x
        return TOWER_PREFIX + key
    return None


def _resolve(source: str | os.PathLike) -> Path:
    p = Path(source).expanduser()
    if p.exists():
        if not p.is_dir():
            raise InputNotFound(f"{p} is not a folder", hint="point at a checkpoint folder (config.json + weights)")
        return p.resolve()
    text = str(source)
    if not looks_like_path(text):
        return _download(text)
    raise InputNotFound(f"checkpoint folder {p} does not exist",
                        hint="give a local folder or a Hugging Face repo id like mtgv/MobileVLM_V2-1.7B")


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download  # lazy: network client, heavy
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError  # lazy: network client, heavy
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise InputNotFound(f"{repo_id} is not a local folder and huggingface_hub is not installed") from exc

    offline = _offline()
    try:
        patterns = weight_patterns(None if offline else _repo_files(repo_id))
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=offline,
                                      cache_dir=str(hf_cache_dir())))
    except LocalEntryNotFoundError as exc:
        raise InputNotFound(f"{repo_id} is not in the local Hugging Face cache and downloads are off "
                            "(HF_HUB_OFFLINE)", hint="unset HF_HUB_OFFLINE or pass a local folder") from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise InputNotFound(f"could not download {repo_id}: {str(exc).splitlines()[0]}") from exc


_SIDE_FILES = ["*.json", "*.model", "*.txt"]


def weight_patterns(repo_files: list[str] | None) -> list[str]:
    """What to download: the side files and ONE weight format (safetensors when the repo has it, as
    transformers prefers it), never both copies of the same weights. None (offline): whatever is cached."""
    if repo_files is None:
        return _SIDE_FILES + ["*.safetensors", "*.bin"]
    has_safetensors = any(f.endswith(".safetensors") for f in repo_files)
    return _SIDE_FILES + (["*.safetensors"] if has_safetensors else ["*.bin"])


def _repo_files(repo_id: str) -> list[str]:
    from huggingface_hub import list_repo_files  # lazy: network client, heavy

    return list_repo_files(repo_id)


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
        if not isinstance(rel, str) or not rel or rel.startswith("/") or ".." in rel.split("/"):
            raise InvalidCheckpoint(f"{index.name}: tensor {str(name)[:80]!r} maps to {str(rel)[:80]!r}, not a shard "
                                    "file name in the folder", hint="re-download the checkpoint's index")
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
