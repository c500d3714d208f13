"""A run's fingerprint: what produced its numbers, and which parts must agree before two runs are compared.

One definition for the bench (which writes it), the llama-bench importer (which maps onto it), the report (which
refuses unlike runs) and the lab. It lives in the store's existing columns, no schema of its own:

| field | stored in | must agree |
|---|---|---|
| device_model, soc, cpu_model, cpu_features, gpu | ``device_fingerprint`` (devices/helpers/fingerprint.sh) | yes |
| cores_online, cpu_mask, governor | ``device_fingerprint`` (mask: the one the bench ran with) | yes |
| threads, workload | the ``threads`` and ``workload`` columns | yes |
| os, kernel | ``device_fingerprint`` | no: shown |
| llama_cpp_commit | the ``llama_cpp_commit`` column | no: shown |
| compiler, build_flags | ``build_flags`` (from the bundle's build-info.json) | no: shown |
| model_sha256 | ``model_hashes`` | no: shown |

"Must agree" is the hardware and how it was driven: numbers from another CPU, core set, governor, thread count or
workload say nothing about a code change. The build and the model files are what a pull request changes, so
they differ legitimately; a report shows those differences instead of refusing them.

Plain API (no store access)::

    fp = of_record(run.record)                 # {field: text}
    diff(fp_a, fp_b)                           # [Difference(field, a, b)] over every field
    diff(fp_a, fp_b, MUST_AGREE)               # only the fields that make runs incomparable
    comparable_key(fp)                         # hashable: equal keys = like-for-like runs
"""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from edgevlm.paths import REPO_ROOT


@dataclass(frozen=True)
class Field:
    name: str
    must_agree: bool
    what: str


FIELDS: tuple[Field, ...] = (
    Field("device_model", True, "device model (Android ro.product.model, device-tree model, or the CPU model)"),
    Field("soc", True, "SoC (ro.soc.model / ro.board.platform) or CPU model"),
    Field("cpu_model", True, "CPU model string (/proc/cpuinfo; llama-bench cpu_info)"),
    Field("cpu_features", True, "CPU feature flags (/proc/cpuinfo flags or Features)"),
    Field("gpu", True, "GPU (llama-bench gpu_info; empty for CPU-only runs)"),
    Field("cores_online", True, "cores online (/sys/devices/system/cpu/online)"),
    Field("cpu_mask", True, "taskset mask the bench ran with (empty: not pinned)"),
    Field("governor", True, "cpufreq governor of the cores"),
    Field("threads", True, "threads"),
    Field("workload", True, "benched shape (image, prompt and generated tokens; llama-bench test)"),
    Field("os", False, "OS / Android / L4T release"),
    Field("kernel", False, "kernel (uname -sr)"),
    Field("llama_cpp_commit", False, "llama.cpp commit of the build"),
    Field("compiler", False, "C++ compiler of the build"),
    Field("build_flags", False, "CMake definitions, CXX flags, build type, backends"),
    Field("model_sha256", False, "sha256 of each model file"),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
MUST_AGREE: tuple[str, ...] = tuple(f.name for f in FIELDS if f.must_agree)
SHOWN: tuple[str, ...] = tuple(f.name for f in FIELDS if not f.must_agree)

# device_fingerprint keys the bench adds on top of the probe's raw lines
_DEVICE_KEYS = {"device_model": "model", "soc": "soc", "cpu_model": "cpu_model", "cpu_features": "cpu_features",
                "gpu": "gpu", "cores_online": "cores_online", "cpu_mask": "cpu_mask", "governor": "governor",
                "os": "os", "kernel": "kernel"}
_BUILD_KEYS = ("cmake_defs", "cxx_flags", "build_type", "backends")


@dataclass(frozen=True)
class Difference:
    field: str
    a: str
    b: str

    def describe(self, a_name: str = "baseline", b_name: str = "candidate") -> str:
        a_set, b_set = set(self.a.split()), set(self.b.split())
        if len(a_set) > 4 and len(b_set) > 4:  # flag lists: name what only one side has
            only = lambda s, t: " ".join(sorted(s - t)) or "–"  # noqa: E731
            return (f"{self.field}: only {a_name} has {_short(only(a_set, b_set))!r}, "
                    f"only {b_name} has {_short(only(b_set, a_set))!r}")
        return f"{self.field}: {a_name} {_short(self.a)!r}, {b_name} {_short(self.b)!r}"


def git_state() -> tuple[str, str]:
    """(short commit, branch) of the checkout edgevlm runs from: the code side of a run's conditions."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""
    return git("rev-parse", "--short", "HEAD"), git("rev-parse", "--abbrev-ref", "HEAD")


def of_record(record: Any) -> dict[str, str]:
    """The fingerprint of a RunRecord (or anything with its attributes), every field as text ('' = unknown)."""
    device = record.device_fingerprint or {}
    out = {name: _text(device.get(key, "")) for name, key in _DEVICE_KEYS.items()}
    if not out["cpu_mask"]:  # records written before the mask moved into the fingerprint kept it in extra
        out["cpu_mask"] = _text((record.extra or {}).get("cpu_mask", ""))
    flags = record.build_flags or {}
    out["compiler"] = _text(flags.get("compiler", ""))
    out["build_flags"] = _canonical(_build_part(flags))
    out["threads"] = "" if record.threads is None else str(record.threads)
    out["workload"] = record.workload or ""
    out["llama_cpp_commit"] = record.llama_cpp_commit or ""
    out["model_sha256"] = _canonical(dict(record.model_hashes or {}))
    return {name: out[name] for name in NAMES}


def diff(a: Mapping[str, str], b: Mapping[str, str], fields: Iterable[str] = NAMES) -> list[Difference]:
    """Fields whose values differ, in FIELDS order."""
    wanted = set(fields)
    return [Difference(n, a.get(n, ""), b.get(n, "")) for n in NAMES if n in wanted and a.get(n, "") != b.get(n, "")]


def comparable_key(fp: Mapping[str, str]) -> tuple[str, ...]:
    """Runs with equal keys may be compared: their hardware, threads and workload agree."""
    return tuple(fp.get(n, "") for n in MUST_AGREE)


def device_fields(probe: Mapping[str, str], cpu_mask: str) -> dict[str, str]:
    """What the bench stores in ``device_fingerprint``: the probe (see edgevlm.device.fingerprint) + the mask."""
    return {**probe, "cpu_mask": cpu_mask}


def build_fields(build_info: Mapping[str, Any]) -> dict[str, Any]:
    """What the bench stores in ``build_flags``: the build-defining parts of a bundle's build-info.json."""
    out: dict[str, Any] = {"cmake_defs": dict(build_info.get("cmake_defs", {}))}
    for key in ("compiler", "cxx_flags", "build_type"):
        out[key] = str(build_info.get(key, ""))
    return out


def _build_part(flags: Mapping[str, Any]) -> dict[str, Any]:
    if "cmake_defs" in flags or "backends" in flags:
        return {k: flags[k] for k in _BUILD_KEYS if k in flags and flags[k] not in ("", {}, None)}
    return {"cmake_defs": dict(flags)}  # records before this format stored the CMake definitions flat


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _canonical(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")) if obj else ""


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
