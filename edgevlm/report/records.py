"""A report from record files, no store needed: this build's `edgevlm bench` records (the candidate) against a
folder of committed ones (the baseline, e.g. benchmarks/results/baseline) — the repository's own dogfooding.

Only like-for-like runs are compared (edgevlm.fingerprint): records measured on another machine are not a
baseline for this one, and `compare` refuses them with MixedRunsError."""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from edgevlm.report.compare import compare
from edgevlm.report.model import Report
from edgevlm.store import ResultsStore
from edgevlm.store.importing import load_file


def compare_files(candidates: Sequence[Path], baseline_dir: Path, *, threshold: float = 0.05,
                  window: int = 5) -> Report | None:
    """The report of the candidate record files against every ``*.json`` in `baseline_dir`; None when the
    folder has no records yet."""
    baseline_files = sorted(Path(baseline_dir).glob("*.json"))
    if not baseline_files:
        return None
    base = [r for f in baseline_files for r in load_file(f).records]
    cand = [r for f in candidates for r in load_file(f).records]
    with tempfile.TemporaryDirectory(prefix="edgevlm-records-") as tmp, \
            ResultsStore(Path(tmp) / "records.sqlite") as store:
        base_ids, cand_ids = store.add_runs(base), store.add_runs(cand)
        return compare(store, base_ids, cand_ids, threshold=threshold, window=window)
