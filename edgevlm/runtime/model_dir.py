"""Finding the LLM and mmproj GGUFs in a folder written by `edgevlm convert` (manifest.json first, then globs)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgevlm.errors import InputNotFound
from edgevlm.paths import member


@dataclass(frozen=True)
class ModelFiles:
    llm: Path
    mmproj: Path | None  # None for a text-only (MobileLLaMA) conversion
    # how `edgevlm convert` resolved the vision tower (manifest.json; its description is in the mmproj)
    vision_tower: dict | None = None


def _from_manifest(folder: Path) -> ModelFiles | None:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text())
        files = data["files"]
        llm = member(folder, files["llm"]["name"], manifest)
        mmproj = member(folder, files["mmproj"]["name"], manifest) if files.get("mmproj") else None
        tower = data.get("vision_tower")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise InputNotFound(f"{manifest} is malformed ({str(exc)[:120]})", hint="convert the checkpoint again") from None
    return ModelFiles(llm, mmproj, tower)


def _from_glob(folder: Path) -> ModelFiles:
    ggufs = sorted(folder.glob("*.gguf"))
    mmprojs = [p for p in ggufs if p.name.startswith("mmproj-")]
    llms = [p for p in ggufs if not p.name.startswith("mmproj-")]
    if len(llms) != 1 or len(mmprojs) > 1:
        raise InputNotFound(f"{folder} has no manifest.json and {len(llms)} LLM / {len(mmprojs)} mmproj GGUFs",
                            hint="pass a folder written by `edgevlm convert` (one LLM, at most one mmproj-*.gguf)")
    return ModelFiles(llms[0], mmprojs[0] if mmprojs else None)


def find_model_files(model_dir: str | Path) -> ModelFiles:
    folder = Path(model_dir)
    if not folder.is_dir():
        raise InputNotFound(f"model folder {folder} does not exist", hint="pass the output folder of `edgevlm convert`")
    files = _from_manifest(folder) or _from_glob(folder)
    for path in (files.llm, files.mmproj):
        if path is not None and not path.is_file():
            raise InputNotFound(f"{path} is listed in {folder} but missing", hint="convert the checkpoint again")
    return files


def require_mmproj(model_dir: str | Path) -> Path:
    files = find_model_files(model_dir)
    if files.mmproj is None:
        raise InputNotFound(f"{model_dir} has no mmproj (a text-only conversion)",
                            hint="convert a MobileVLM checkpoint (with a vision tower)")
    return files.mmproj
