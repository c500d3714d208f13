"""MATRIX.toml → cells: models × quants × profiles × threads × workloads × repeats.

    name = "nightly"
    commit = "3f2a9c1"                    # optional: the project commit / branch the runs are filed under
    branch = "main"                       # (default: the driver's checkout; CI passes what it built)
    models = ["out/MobileVLM_V2-1.7B"]     # converted outputs (edgevlm convert) or checkpoint folders (converted
                                          # on the driver, once per quant); relative to this file
    quants = ["Q4_K_M", "Q8_0"]           # optional; default: each model folder's only LLM quant
    profiles = ["sd888", "orin-nano"]     # device profiles; a cell runs on any device of its profile
    threads = [4]                         # optional; 0 (default) = the profile's
    repeats = 3                           # cells per combination, each a separate run
    reps = 5                              # measured repetitions inside one run (edgevlm bench --repeat)
    warmup = 1
    retries = 1                           # a faulted cell runs again on another device of its profile

    [[workloads]]                         # optional; default: the paper's image + 246 prompt + 128 gen
    name = "paper"
    prompt_tokens = 246
    gen = 128
    image = true

    [bundles]                             # optional: target → bundle folder (default: the built bundle)
    android-arm64 = "build/android-arm64/bundle"

Every key is checked; an unknown one is an error naming the file and key.
"""
from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgevlm.errors import InputNotFound, LabError

KEYS = {"name", "commit", "branch", "models", "quants", "profiles", "threads", "repeats", "reps", "warmup",
        "retries", "workloads", "bundles"}
WORKLOAD_KEYS = {"name", "prompt_tokens", "gen", "image"}


@dataclass(frozen=True)
class Workload:
    name: str = "paper"
    prompt_tokens: int = 246
    gen: int = 128
    image: bool = True


@dataclass(frozen=True)
class Cell:
    index: int
    model: Path
    quant: str | None
    profile: str
    threads: int
    workload: Workload
    repeat: int                           # which of the `repeats` copies

    @property
    def label(self) -> str:
        quant = f" {self.quant}" if self.quant else ""
        return (f"{self.model.name}{quant} on {self.profile} t{self.threads or 'P'} {self.workload.name} "
                f"#{self.repeat + 1}")


@dataclass(frozen=True)
class Matrix:
    name: str
    source: Path
    models: tuple[Path, ...]
    quants: tuple[str | None, ...]
    profiles: tuple[str, ...]
    threads: tuple[int, ...]
    workloads: tuple[Workload, ...]
    repeats: int = 1
    reps: int = 5
    warmup: int = 1
    retries: int = 1
    bundles: dict[str, Path] = field(default_factory=dict)
    commit: str | None = None
    branch: str | None = None

    def cells(self) -> list[Cell]:
        combos = itertools.product(self.models, self.quants, self.profiles, self.threads, self.workloads,
                                   range(self.repeats))
        return [Cell(i, *combo) for i, combo in enumerate(combos)]


def load_matrix(path: str | Path) -> Matrix:
    path = Path(path)
    if not path.is_file():
        raise InputNotFound(f"matrix file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LabError(f"{path}: not TOML ({exc})") from None
    return parse_matrix(data, path)


def parse_matrix(data: dict[str, Any], path: Path) -> Matrix:
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise LabError(f"{path}: unknown key {unknown[0]!r}", hint=f"known keys: {', '.join(sorted(KEYS))}")
    base = path.parent
    models = tuple(_model(base, m, path) for m in _list(data, "models", str, path, required=True))
    quants = tuple(_list(data, "quants", str, path)) or (None,)
    profiles = tuple(_list(data, "profiles", str, path, required=True))
    threads = tuple(_list(data, "threads", int, path)) or (0,)
    if any(t < 0 for t in threads):
        raise LabError(f"{path}: threads must be 0 (the profile's) or positive, got {list(threads)}")
    workloads = tuple(_workload(w, path) for w in data.get("workloads", [{}]))
    bundles = data.get("bundles", {})
    if not isinstance(bundles, dict) or not all(isinstance(v, str) for v in bundles.values()):
        raise LabError(f"{path}: [bundles] maps a target to a bundle folder, e.g. android-arm64 = \"build/…\"")
    return Matrix(str(data.get("name", path.stem)), path, models, quants, profiles, threads, workloads,
                  _int(data, "repeats", 1, path, 1), _int(data, "reps", 5, path, 1), _int(data, "warmup", 1, path, 0),
                  _int(data, "retries", 1, path, 0), {t: (base / p) for t, p in bundles.items()},
                  _text(data, "commit", path), _text(data, "branch", path))


def _text(data: dict, key: str, path: Path) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise LabError(f"{path}: {key} must be text, got {value!r}")
    return value


def _list(data: dict, key: str, kind: type, path: Path, required: bool = False) -> list:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise LabError(f"{path}: {key} must be a list of {kind.__name__}s, got {value!r}"[:300])
    if required and not value:
        raise LabError(f"{path}: {key} is missing or empty")
    return value


def _int(data: dict, key: str, default: int, path: Path, minimum: int) -> int:
    value = data.get(key, default)
    if type(value) is not int or value < minimum:
        raise LabError(f"{path}: {key} must be an integer ≥ {minimum}, got {value!r}")
    return value


def _model(base: Path, text: str, path: Path) -> Path:
    model = (base / text).resolve()
    if not model.is_dir():
        raise InputNotFound(f"{path}: model folder {model} does not exist",
                            hint="models are converted outputs (edgevlm convert OUT) or checkpoint folders")
    return model


def _workload(data: Any, path: Path) -> Workload:
    if not isinstance(data, dict):
        raise LabError(f"{path}: each [[workloads]] entry is a table")
    unknown = sorted(set(data) - WORKLOAD_KEYS)
    if unknown:
        raise LabError(f"{path}: unknown workload key {unknown[0]!r}",
                       hint=f"known: {', '.join(sorted(WORKLOAD_KEYS))}")
    w = Workload(**data)
    if type(w.prompt_tokens) is not int or type(w.gen) is not int or w.gen < 1 or w.prompt_tokens < 0 \
            or not isinstance(w.image, bool) or not isinstance(w.name, str):
        raise LabError(f"{path}: workload {data!r} needs name (text), prompt_tokens ≥ 0, gen ≥ 1, image (bool)")
    return w
