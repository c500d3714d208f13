"""Export runs as edgevlm records (JSON, re-importable) or one CSV row per raw sample."""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from edgevlm.errors import StoreError
from edgevlm.store.db import StoredRun
from edgevlm.store.metrics import METRICS
from edgevlm.store.record import csv_fields

_CSV_FIELDS = csv_fields()        # the record's fields the CSV has, in order (edgevlm.store.record)
CSV_COLUMNS = ("run_id", *_CSV_FIELDS, "metric", "unit", "rep", "value")
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
        head = (run.id, *(_csv_value(getattr(r, name)) for name in _CSV_FIELDS))
        for metric, values in r.samples.items():
            for rep, value in enumerate(values):
                writer.writerow((*head, metric, METRICS[metric].unit, rep, repr(value)))
    return out.getvalue()


def _csv_value(value: object) -> object:
    """None as an empty cell, booleans as 0/1."""
    return "" if value is None else int(value) if isinstance(value, bool) else value
