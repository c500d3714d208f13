"""Copy the runs of one store into another (``edgevlm results migrate``: a single host's SQLite history into
a lab's PostgreSQL). Idempotent: each copied run carries a run key — its own, or one derived from its
content — so copying again skips what is already there."""
from __future__ import annotations

import hashlib
import json

from edgevlm.store.db import ResultsStore, StoredRun

BATCH = 500  # runs per transaction: a big history goes over in bounded, all-or-nothing steps


def copy_key(run: StoredRun) -> str:
    """The key of a run copied without one: a hash of the whole record (samples included), so the same run
    copied twice is recognised, wherever the source file has moved since."""
    body = json.dumps(run.record.to_dict(), sort_keys=True).encode()
    return "copy:" + hashlib.sha256(body).hexdigest()


def copy_runs(source: ResultsStore, target: ResultsStore, progress=None) -> tuple[int, int]:
    """(copied, already there). Oldest first, so the target's ids keep the source's order."""
    ids = [r.id for r in reversed(source.runs())]
    order = {run_id: i for i, run_id in enumerate(ids)}
    own_keys = source.run_keys()
    task = progress.add_task("copying runs", total=len(ids)) if progress is not None else None
    copied = skipped = 0
    for start in range(0, len(ids), BATCH):
        batch = sorted(source.runs(ids=ids[start:start + BATCH], with_samples=True), key=lambda r: order[r.id])
        keys = [own_keys.get(r.id) or copy_key(r) for r in batch]
        written = target.write_runs([r.record for r in batch], keys=keys)
        fresh = sum(1 for _, wrote in written if wrote)  # what the write did, not what was asked
        copied += fresh
        skipped += len(batch) - fresh
        if task is not None:
            progress.advance(task, len(batch))
    return copied, skipped
