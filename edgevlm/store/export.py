"""Export runs as edgevlm records (JSON, re-importable) or one CSV row per raw sample."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from edgevlm.errors import StoreError
from edgevlm.store.db import StoredRun
from edgevlm.store.metrics import METRICS

CSV_COLUMNS = ("run_id", "created", "commit", "branch", "source", "device_name", "model_name", "quant",
               "workload", "threads", "throttled", "partial", "llama_cpp_commit", "metric", "unit", "rep", "value")
FORMATS = ("json", "csv")


def export_text(runs: Sequence[StoredRun], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([r.record.to_dict() for r in runs], indent=2) + "\n"
    if fmt == "csv":
        return _csv(runs)
    raise StoreError(f"unknown export format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def _csv(runs: Sequence[StoredRun]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in runs:
        r = run.record
        head = (run.id, r.created, r.commit, r.branch, r.source, r.device_name, r.model_name, r.quant, r.workload,
                "" if r.threads is None else r.threads, int(r.throttled), int(r.partial), r.llama_cpp_commit)
        for metric, values in r.samples.items():
            for rep, value in enumerate(values):
                writer.writerow((*head, metric, METRICS[metric].unit, rep, repr(value)))
    return out.getvalue()
