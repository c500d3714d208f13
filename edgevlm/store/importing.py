"""Read result files (edgevlm records, llama-bench JSON/JSONL) and import them all-or-nothing."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevlm.errors import InputNotFound, StoreError
from edgevlm.store.db import ResultsStore
from edgevlm.store.llama_bench import is_llama_bench, parse_test
from edgevlm.store.record import RunRecord


@dataclass
class LoadedFile:
    path: Path
    records: list[RunRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why an entry was not imported (e.g. a -pg test)
    keys: list[str] = field(default_factory=list)     # one content key per record (see import_key)
    already: list[int] = field(default_factory=list)  # ids of runs this file had stored before


def import_key(item: Any, overrides: "Overrides") -> str:
    """A file entry's content key: the same entry imported again (whatever the file is called, wherever it
    moved) is recognised and stored once. The overrides are part of it: they change what is stored."""
    body = json.dumps([item, overrides.device, overrides.commit, overrides.branch], sort_keys=True)
    return "import:" + hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Overrides:
    """Run conditions llama-bench cannot know: which device, and which project commit/branch it measured."""
    device: str | None = None
    commit: str | None = None
    branch: str = ""


def load_file(path: str | Path, overrides: Overrides = Overrides()) -> LoadedFile:
    """Parse and validate one file; raises StoreError naming the file and field, writes nothing."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"results file {path} does not exist")
    items = _parse_json(path)
    loaded = LoadedFile(path)
    for i, item in enumerate(items):
        where = f"{path}[{i}]" if len(items) > 1 else str(path)
        if is_llama_bench(item):
            record = parse_test(item, where, device=overrides.device, commit=overrides.commit,
                                branch=overrides.branch)
            if record is None:
                loaded.skipped.append(f"{where}: mixed pp+tg test (-pg) has no single metric; skipped")
                continue
        else:
            record = RunRecord.from_dict(item, where)
        loaded.records.append(record)
        loaded.keys.append(import_key(item, overrides))
    return loaded


def import_files(store: ResultsStore, paths: list[str | Path], overrides: Overrides = Overrides()
                 ) -> tuple[list[int], list[LoadedFile]]:
    """Validate every file first, then write every run in one transaction: all or nothing."""
    if not paths:
        raise StoreError("no files to import")
    loaded = [load_file(p, overrides) for p in paths]
    written = iter(store.write_runs([r for f in loaded for r in f.records], keys=[k for f in loaded for k in f.keys]))
    ids = []
    for f in loaded:
        for _ in f.records:
            run_id, wrote = next(written)
            (ids if wrote else f.already).append(run_id)
    return ids, loaded


def _parse_json(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: cannot read ({exc})") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise StoreError(f"{path}: JSON nested too deeply to be a results file") from None
    except json.JSONDecodeError as exc:
        data = _parse_jsonl(text)  # llama-bench -o jsonl: one object per line
        if data is None:
            raise StoreError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise StoreError(f"{path}: holds an empty list, no records")
    return items


def _parse_jsonl(text: str) -> list[Any] | None:
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        return [json.loads(line) for line in lines] if len(lines) > 1 else None
    except (json.JSONDecodeError, RecursionError):
        return None
