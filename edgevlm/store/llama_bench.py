"""Stock ``llama-bench -o json`` / ``-o jsonl`` output → RunRecords, so stock numbers sit beside ours.

Field names follow ``test::get_fields()`` in the pinned llama.cpp's tools/llama-bench/llama-bench.cpp, plus the
``samples_ns`` / ``samples_ts`` arrays its JSON printers append. Each test object becomes one run:
a pp test (n_prompt > 0, n_gen = 0) gives ``prompt_tps`` samples, a tg test (n_gen > 0, n_prompt = 0) gives
``decode_tps``; ``samples_ts`` are kept raw. The workload (``pp512``, ``tg128``, ``@d<depth>``) keeps different
shapes apart. Mixed pp+tg tests (``-pg``) measure neither metric alone and are skipped, with a note.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import PurePath
from typing import Any

from edgevlm.errors import StoreError
from edgevlm.store.metrics import DECODE_TPS, PROMPT_TPS
from edgevlm.store.record import RunRecord, is_finite_number, utc_now

REQUIRED = {"build_commit": str, "model_filename": str, "model_type": str, "n_prompt": int, "n_gen": int,
            "n_threads": int, "samples_ts": list}
# what llama-bench measures with, not what it measured: kept in `extra` for the record
_TIMING_FIELDS = {"samples_ns", "samples_ts", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "test_time"}
# llama-bench field → edgevlm.fingerprint's place for it (device_fingerprint key, or build_flags key); n_threads,
# build_commit and model_type (its ftype) land in the threads, llama_cpp_commit and quant columns
_DEVICE_FIELDS = {"cpu_info": "cpu_model", "gpu_info": "gpu"}
_BUILD_FIELDS = {"backends": "backends"}

# llama_ftype_name() display names → the quant names users pass to llama-quantize
_FTYPE_TO_QUANT = {
    "all F32": "F32", "Q2_K - Medium": "Q2_K", "Q2_K - Small": "Q2_K_S", "Q3_K - Small": "Q3_K_S",
    "Q3_K - Medium": "Q3_K_M", "Q3_K - Large": "Q3_K_L", "Q4_K - Small": "Q4_K_S", "Q4_K - Medium": "Q4_K_M",
    "Q5_K - Small": "Q5_K_S", "Q5_K - Medium": "Q5_K_M",
}


def is_llama_bench(obj: Any) -> bool:
    return isinstance(obj, dict) and "build_commit" in obj and "samples_ts" in obj


def quant_from_model_type(model_type: str) -> str:
    """``llama 1B Q4_K - Medium`` (arch, size, ftype name) → ``Q4_K_M``; unknown names are kept as written."""
    parts = model_type.split(" ", 2)
    ftype = parts[2] if len(parts) == 3 else model_type
    ftype = ftype.removeprefix("(guessed) ")
    return _FTYPE_TO_QUANT.get(ftype, ftype.split(" - ")[0])


def workload_of(n_prompt: int, n_gen: int, n_depth: int) -> str:
    shape = f"pp{n_prompt}" if n_gen == 0 else f"tg{n_gen}"
    return shape + (f"@d{n_depth}" if n_depth else "")


def parse_test(obj: dict[str, Any], where: str, *, device: str | None = None, commit: str | None = None,
               branch: str = "") -> RunRecord | None:
    """One llama-bench test object → a RunRecord, or None for a mixed pp+tg test."""
    for name, kind in REQUIRED.items():
        if name not in obj:
            raise StoreError(f"{where}: llama-bench field {name!r} is missing")
        if not isinstance(obj[name], kind) or isinstance(obj[name], bool):
            raise StoreError(f"{where}: llama-bench field {name!r} must be {kind.__name__}, got {obj[name]!r}"[:300])
    for i, v in enumerate(obj["samples_ts"]):
        if not is_finite_number(v) or v <= 0:
            raise StoreError(f"{where}: llama-bench field 'samples_ts[{i}]' must be a positive number, got {v!r}")
    if not obj["samples_ts"]:
        raise StoreError(f"{where}: llama-bench field 'samples_ts' is empty")
    n_prompt, n_gen = obj["n_prompt"], obj["n_gen"]
    if n_prompt > 0 and n_gen > 0:
        return None
    if n_prompt <= 0 and n_gen <= 0:
        raise StoreError(f"{where}: llama-bench fields 'n_prompt' and 'n_gen' are both 0: not a pp or tg test")
    metric = PROMPT_TPS if n_gen == 0 else DECODE_TPS
    n_depth = obj.get("n_depth", 0) if isinstance(obj.get("n_depth", 0), int) else 0
    fingerprint, build = _fingerprint(obj)
    record = RunRecord.__new__(RunRecord)
    record.__dict__.update(
        device_name=device or obj.get("cpu_info") or "unknown-cpu", device_fingerprint=fingerprint,
        model_name=PurePath(obj["model_filename"]).name.removesuffix(".gguf"),
        quant=quant_from_model_type(obj["model_type"]), samples={metric: obj["samples_ts"]},
        commit=commit if commit is not None else obj["build_commit"], branch=branch, source="llama-bench",
        created=_created(obj.get("test_time")), build_flags=build, llama_cpp_commit=obj["build_commit"],
        model_hashes={}, threads=obj["n_threads"] if obj["n_threads"] > 0 else None, throttled=False,
        partial=False, workload=workload_of(n_prompt, n_gen, n_depth),
        extra={"llama_bench": {k: v for k, v in obj.items() if k not in _TIMING_FIELDS},
               "samples_ns": obj.get("samples_ns")})
    record.validate(where)
    return record


def _fingerprint(obj: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """llama-bench's cpu_info / gpu_info / backends under the names edgevlm.fingerprint reads; the originals
    are kept too (``cpu_info`` …) so nothing llama-bench said is lost."""
    device = {k: obj[k] for k in _DEVICE_FIELDS if isinstance(obj.get(k), str)}
    device.update({name: obj[k] for k, name in _DEVICE_FIELDS.items() if isinstance(obj.get(k), str)})
    if isinstance(obj.get("cpu_info"), str):  # llama-bench knows no device model or SoC: the CPU stands for both
        device.update(model=obj["cpu_info"], soc=obj["cpu_info"])
    if isinstance(obj.get("cpu_mask"), str):  # its -C mask "0x0" (none) / "0xf0" → taskset's "" / "f0"
        device["cpu_mask"] = obj["cpu_mask"].lower().removeprefix("0x").lstrip("0")
    return device, {name: obj[k] for k, name in _BUILD_FIELDS.items() if isinstance(obj.get(k), str)}


def _created(test_time: Any) -> str:
    """llama-bench's RFC 3339 test_time when readable, else now."""
    if isinstance(test_time, str):
        try:
            _dt.datetime.fromisoformat(test_time.replace("Z", "+00:00"))
            return test_time
        except ValueError:
            pass
    return utc_now()
