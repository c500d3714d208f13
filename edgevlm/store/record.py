"""The "edgevlm bench record": one benchmark run with every raw sample, as a typed, validated dataclass.

``edgevlm bench`` writes these; ``edgevlm results import`` reads them (a single record or a JSON list of
records); ``edgevlm results export --format json`` writes them back, so export → import round-trips.

JSON form (keys not listed are an error; ``format``/``version`` are optional on input)::

    {
      "format": "edgevlm-bench-record", "version": 1,
      "created": "2025-01-31T12:00:00Z",      # ISO 8601, UTC; default: now
      "commit": "3f2a9c1", "branch": "main",   # the edgevlm (project) commit and branch under test
      "source": "edgevlm",                     # "edgevlm" | "llama-bench"
      "device_name": "sd888",                  # the profile name; reports group by it
      "device_fingerprint": {"soc": "SM8350", "cores": "..."},   # any JSON object
      "build_flags": {"GGML_CPU_ARM_ARCH": "armv8.2-a+dotprod+fp16"},
      "llama_cpp_commit": "0c1e57098",
      "model_name": "MobileVLM_V2-1.7B", "quant": "Q4_K_M",
      "model_hashes": {"model-Q4_K_M.gguf": "sha256:..."},
      "threads": 4,                            # or null
      "throttled": false,                      # the thermal gate saw throttling: reports exclude the run
      "partial": false,                        # the run stopped early (device fault); samples so far kept
      "workload": "img336+p246+g128",          # the shape benched; only equal workloads are compared
      "samples": {                             # metric -> every raw repetition, in order
        "decode_tps": {"unit": "tok/s", "values": [21.3, 21.1, 20.9]},
        "vit_ms": [412.0, 409.5, 415.2]        # a bare list is accepted; the unit is the metric's
      },
      "extra": {"temp_before_c": 41.2}         # anything else worth keeping (JSON object)
    }

From Python::

    RunRecord(device_name="sd888", model_name="MobileVLM_V2-1.7B", quant="Q4_K_M", commit="3f2a9c1",
              samples={DECODE_TPS: [21.3, 21.1]}, threads=4)

Metric names and units are in :mod:`edgevlm.store.metrics`.

This dataclass is the one definition of a run record: each field's metadata (`stored`) says how the store keeps
it — its column (``commit`` is ``git_commit``), its encoding (text, JSON, 0/1, nullable integer) and its place
in the CSV export; the table (schema.py), the reads and writes (db.py) and the CSV (export.py) follow from it.
Adding a field = one line here + one Alembic migration adding its column (docs/DEVELOPING.md).
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from edgevlm.errors import StoreError
from edgevlm.store.metrics import METRICS

MAX_THREADS = 65536  # no machine has more; a bigger number is a typo (and overflows a database integer)
MAX_DEPTH = 32       # JSON objects nest this deep at most: the fingerprint and extra are shallow by nature
RECORD_FORMAT = "edgevlm-bench-record"
RECORD_VERSION = 1
SOURCES = ("edgevlm", "llama-bench")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Stored:
    """How the store keeps a record field: `column` (default: the field's name), `codec` (text | json: a JSON
    object as text | bool: 0/1 | int: a nullable integer) and `csv`, its position in the CSV export (None: not
    a CSV column)."""
    column: str = ""
    codec: str = "text"
    csv: int | None = None


def stored(**how: Any) -> dict[str, Stored]:
    return {"stored": Stored(**how)}


@dataclass
class RunRecord:
    device_name: str = field(metadata=stored(csv=5))
    model_name: str = field(metadata=stored(csv=6))
    quant: str = field(default="", metadata=stored(csv=7))
    samples: dict[str, list[float]] = field(default_factory=dict)    # its own table (samples), one row per value
    commit: str = field(default="", metadata=stored(column="git_commit", csv=2))
    branch: str = field(default="", metadata=stored(csv=3))
    source: str = field(default="edgevlm", metadata=stored(csv=4))
    created: str = field(default_factory=utc_now, metadata=stored(csv=1))
    device_fingerprint: dict[str, Any] = field(default_factory=dict, metadata=stored(codec="json"))
    build_flags: dict[str, Any] = field(default_factory=dict, metadata=stored(codec="json"))
    llama_cpp_commit: str = field(default="", metadata=stored(csv=12))
    model_hashes: dict[str, str] = field(default_factory=dict, metadata=stored(codec="json"))
    threads: int | None = field(default=None, metadata=stored(codec="int", csv=9))
    throttled: bool = field(default=False, metadata=stored(codec="bool", csv=10))
    partial: bool = field(default=False, metadata=stored(codec="bool", csv=11))
    workload: str = field(default="", metadata=stored(csv=8))
    extra: dict[str, Any] = field(default_factory=dict, metadata=stored(codec="json"))

    def __post_init__(self) -> None:
        self.validate("record")

    def validate(self, where: str) -> None:
        """Raise StoreError naming ``where`` and the offending field; normalise samples to float lists."""
        for name in ("device_name", "model_name"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise _bad(where, name, "must be a non-empty string", getattr(self, name))
        for name in ("quant", "commit", "branch", "created", "llama_cpp_commit", "workload"):
            if not isinstance(getattr(self, name), str):
                raise _bad(where, name, "must be a string", getattr(self, name))
        if self.source not in SOURCES:
            raise _bad(where, "source", f"must be one of {', '.join(SOURCES)}", self.source)
        _check_created(where, self.created)
        for name in ("device_fingerprint", "build_flags", "model_hashes", "extra"):
            if not isinstance(getattr(self, name), dict):
                raise _bad(where, name, "must be a JSON object", getattr(self, name))
            if _too_deep(getattr(self, name)):
                raise StoreError(f"{where}: field {name!r} is nested more than {MAX_DEPTH} levels deep")
        if self.threads is not None and (type(self.threads) is not int or not 1 <= self.threads <= MAX_THREADS):
            raise _bad(where, "threads", f"must be an integer from 1 to {MAX_THREADS}, or null", self.threads)
        for name in ("throttled", "partial"):
            if not isinstance(getattr(self, name), bool):
                raise _bad(where, name, "must be true or false", getattr(self, name))
        self.samples = _check_samples(where, self.samples, self.partial)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "RunRecord":
        """Build from parsed JSON; every error names ``where`` (file and index) and the field."""
        if not isinstance(data, dict):
            raise StoreError(f"{where}: a record must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        fmt = data.pop("format", RECORD_FORMAT)
        if fmt != RECORD_FORMAT:
            raise _bad(where, "format", f"must be {RECORD_FORMAT!r}", fmt)
        version = data.pop("version", RECORD_VERSION)
        if version != RECORD_VERSION:
            raise _bad(where, "version", f"must be {RECORD_VERSION} (this edgevlm reads version 1)", version)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StoreError(f"{where}: unknown field {unknown[0]!r}", hint=f"known fields: {', '.join(sorted(known))}")
        for name in ("device_name", "model_name"):
            if name not in data:
                raise StoreError(f"{where}: missing field {name!r}")
        samples = data.get("samples", {})
        if isinstance(samples, dict):
            data["samples"] = {k: _sample_values(where, k, v) for k, v in samples.items()}
        record = cls.__new__(cls)  # bypass __post_init__: validate once, with the file's name
        for f in fields(cls):
            setattr(record, f.name, data[f.name] if f.name in data else _default(f))
        record.validate(where)
        return record

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["samples"] = {m: {"unit": METRICS[m].unit, "values": list(v)} for m, v in self.samples.items()}
        return {"format": RECORD_FORMAT, "version": RECORD_VERSION, **body}


def stored_fields() -> tuple[tuple[str, Stored], ...]:
    """(field name, how it is stored) of every field kept in the runs table, in definition order."""
    return tuple((f.name, replace(f.metadata["stored"], column=f.metadata["stored"].column or f.name))
                 for f in fields(RunRecord) if "stored" in f.metadata)


def csv_fields() -> tuple[str, ...]:
    """The record fields the CSV export has, in its column order."""
    return tuple(name for name, how in sorted(((n, h) for n, h in stored_fields() if h.csv is not None),
                                              key=lambda item: item[1].csv))


def _default(f: Any) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _bad(where: str, name: str, what: str, value: Any) -> StoreError:
    return StoreError(f"{where}: field {name!r} {what}, got {value!r}"[:400])


def _check_created(where: str, created: str) -> None:
    try:
        _dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(where, "created", "must be an ISO 8601 time such as 2025-01-31T12:00:00Z", created) from None


def _sample_values(where: str, metric: str, value: Any) -> Any:
    """Accept ``[..]`` or ``{"unit": u, "values": [..]}``; the unit must be the metric's own."""
    if not isinstance(value, dict):
        return value
    extra_keys = sorted(set(value) - {"unit", "values"})
    if extra_keys:
        raise StoreError(f"{where}: field 'samples.{metric}.{extra_keys[0]}' is not known (use unit, values)")
    if "values" not in value:
        raise StoreError(f"{where}: missing field 'samples.{metric}.values'")
    expected = METRICS[metric].unit if metric in METRICS else None
    if expected is not None and value.get("unit", expected) != expected:
        raise _bad(where, f"samples.{metric}.unit", f"must be {expected!r}", value.get("unit"))
    return value["values"]


def is_finite_number(v: Any) -> bool:
    """An int or float that is a finite double (10**400 is an int but no double: float() would overflow)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def _too_deep(obj: Any) -> bool:
    """Nesting deeper than MAX_DEPTH, found without recursion (a hostile file may nest thousands deep)."""
    level = [obj]
    for _ in range(MAX_DEPTH):
        level = [c for o in level for c in (o.values() if isinstance(o, dict) else o if isinstance(o, list) else ())]
        if not level:
            return False
    return True


def _check_samples(where: str, samples: Any, partial: bool) -> dict[str, list[float]]:
    if not isinstance(samples, dict):
        raise _bad(where, "samples", "must be an object {metric: [values]}", samples)
    clean: dict[str, list[float]] = {}
    for metric, values in samples.items():
        if metric not in METRICS:
            raise StoreError(f"{where}: field 'samples.{metric}' is not a known metric",
                             hint=f"known metrics: {', '.join(METRICS)}")
        if not isinstance(values, (list, tuple)):
            raise _bad(where, f"samples.{metric}", "must be a list of numbers", values)
        for i, v in enumerate(values):
            if not is_finite_number(v):
                raise _bad(where, f"samples.{metric}[{i}]", "must be a finite number", v)
        clean[metric] = [float(v) for v in values]
    if not partial and not any(clean.values()):
        raise StoreError(f"{where}: field 'samples' holds no values (only a partial run may be empty)")
    return clean
