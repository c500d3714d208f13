"""A converted model folder: the one type (`ModelFolder`) and the one rule for reading it.

`edgevlm convert` writes ``<name>-<QUANT>.gguf`` (the LLM), ``mmproj-<name>-<QUANT>.gguf`` (the vision side,
absent for a text-only MobileLLaMA) and ``manifest.json`` (file names, sizes, sha256, the vision tower used).
The runtime, the bench, deploy, preflight, the lab and verify all read a folder through `find_model`:

1. ``manifest.json``, when present, names the LLM a folder is run with and its mmproj (``files.llm`` /
   ``files.mmproj``); a malformed manifest, or one naming a file outside the folder, is refused.
2. ``quant`` (``--quant``) picks another LLM in the same folder: the one ``*-<QUANT>.gguf`` (any case).
3. A folder without a manifest (converted elsewhere): its one LLM (``*.gguf`` not starting with ``mmproj-``;
   several need ``quant``), and the mmproj ``mmproj-<name>-*.gguf``, else ``mmproj-*.gguf`` (first by name).
4. The model's name and quant label come from the LLM's file name: ``<name>-<QUANT>.gguf``.

Hashes: each file's sha256 is read at most once while it is unchanged (`FileHashes`, keyed by path, size and
mtime), and the manifest's hashes are taken as they are for files no newer than the manifest and of its size —
so one bench session never reads a 1.4 GB GGUF to hash it, and a folder converted elsewhere is read once.
A primitive: imports only errors, paths and hashing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from edgevlm.errors import InputNotFound
from edgevlm.hashing import FileHashes
from edgevlm.paths import member

MANIFEST = "manifest.json"
MMPROJ_PREFIX = "mmproj-"


def output_names(name: str, quant: str, mmproj_quant: str, multimodal: bool) -> tuple[str, str | None]:
    """The file names `edgevlm convert` gives a model (rule 4 reads them back)."""
    return f"{name}-{quant.upper()}.gguf", (f"{MMPROJ_PREFIX}{name}-{mmproj_quant.upper()}.gguf" if multimodal else None)


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    name: str
    quant: str                              # the LLM's quant label from its file name, e.g. "Q4_K_M"
    llm: Path
    mmproj: Path | None                     # None for a text-only (MobileLLaMA) conversion
    vision_tower: dict | None = None        # how convert resolved the tower (manifest.json)
    manifest: dict | None = None
    hashes_cache: FileHashes = field(default_factory=FileHashes, compare=False, repr=False)

    def files(self) -> list[Path]:
        return [self.llm] + ([self.mmproj] if self.mmproj else [])

    def sha256(self, path: Path) -> str:
        """Hex sha256 of any local file (a model file, a bundle tool, an image), read at most once."""
        return self.hashes_cache.sha256(path)

    def hashes(self) -> dict[str, str]:
        """{file name: "sha256:<hex>"} of the model's files, as run records store them."""
        return {p.name: "sha256:" + self.sha256(p) for p in self.files()}

    def require_mmproj(self) -> Path:
        if self.mmproj is None:
            raise InputNotFound(f"{self.path} has no mmproj (a text-only conversion)",
                                hint="convert a MobileVLM checkpoint (with a vision tower)")
        return self.mmproj


def find_model(model_dir: str | Path, quant: str | None = None) -> ModelFolder:
    """The model in a converted folder, by the rule above; ambiguity or a missing file is an InputNotFound."""
    folder = Path(model_dir)
    if not folder.is_dir():
        raise InputNotFound(f"model folder {folder} does not exist",
                            hint="convert a checkpoint first: edgevlm convert CHECKPOINT -o MODEL_DIR")
    manifest = _read_manifest(folder)
    listed = _listed(folder, manifest) if manifest is not None else None
    llm = _pick_llm(folder, quant, listed[0] if listed else None)
    name, _, q = llm.stem.rpartition("-")
    if not name:
        name, q = llm.stem, ""
    mmproj = listed[1] if listed and listed[0] == llm else _find_mmproj(folder, name)
    for path in (llm, mmproj):
        if path is not None and not path.is_file():
            raise InputNotFound(f"{path} is listed in {folder} but missing", hint="convert the checkpoint again")
    model = ModelFolder(folder, name, q, llm, mmproj, (manifest or {}).get("vision_tower"), manifest)
    if manifest is not None:
        _seed_hashes(model, folder / MANIFEST)
    return model


def require_mmproj(model_dir: str | Path) -> Path:
    """The mmproj of a converted folder (the vision encoder's input)."""
    return find_model(model_dir).require_mmproj()


def _read_manifest(folder: Path) -> dict | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return data
    except (ValueError, TypeError, RecursionError) as exc:
        raise InputNotFound(f"{path} is malformed ({str(exc)[:120]})", hint="convert the checkpoint again") from None


def _listed(folder: Path, manifest: dict) -> tuple[Path, Path | None]:
    path = folder / MANIFEST
    try:
        files = manifest["files"]
        llm = member(folder, files["llm"]["name"], path)
        mmproj = member(folder, files["mmproj"]["name"], path) if files.get("mmproj") else None
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputNotFound(f"{path} is malformed ({str(exc)[:120]})", hint="convert the checkpoint again") from None
    return llm, mmproj


def _pick_llm(folder: Path, quant: str | None, listed: Path | None) -> Path:
    if listed is not None and (not quant or listed.stem.upper().endswith(f"-{quant.upper()}")):
        return listed
    llms = [p for p in sorted(folder.glob("*.gguf")) if not p.name.startswith(MMPROJ_PREFIX)]
    if quant:
        llms = [p for p in llms if p.stem.upper().endswith(f"-{quant.upper()}")]
    if len(llms) != 1:
        names = ", ".join(p.name for p in llms) or "none"
        raise InputNotFound(f"{folder}: expected exactly one LLM GGUF{f' for {quant}' if quant else ''}, "
                            f"found {names}", hint="pick one with --quant, or pass a folder written by `edgevlm convert`")
    return llms[0]


def _find_mmproj(folder: Path, name: str) -> Path | None:
    found = sorted(folder.glob(f"{MMPROJ_PREFIX}{name}-*.gguf")) or sorted(folder.glob(f"{MMPROJ_PREFIX}*.gguf"))
    return found[0] if found else None


def _seed_hashes(model: ModelFolder, manifest_file: Path) -> None:
    """The manifest's sha256 for files it lists, still of its size and not modified after it was written."""
    written = manifest_file.stat().st_mtime_ns
    for entry in (model.manifest.get("files") or {}).values():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            continue
        path = model.path / str(entry.get("name", ""))
        if path in model.files():
            model.hashes_cache.seed(path, entry["sha256"], size=entry.get("size"), not_after_ns=written)
