"""``ResultsStore``: the SQLite results store (WAL, busy timeout, one transaction per write)."""
from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edgevlm.errors import StoreError
from edgevlm.store.metrics import METRICS
from edgevlm.store.record import RunRecord
from edgevlm.store.schema import migrate

BUSY_TIMEOUT_MS = 60_000  # parallel bench jobs queue on the write lock; a write takes milliseconds
_HEX = re.compile(r"[0-9a-fA-F]{4,40}")
_RUN_REF = re.compile(r"(?:run:|#)(\d+)")

_RUN_COLUMNS = ("id, created, git_commit, branch, source, device_name, device_fingerprint, build_flags, "
                "llama_cpp_commit, model_name, quant, model_hashes, threads, throttled, partial, workload, extra")


@dataclass(frozen=True)
class StoredRun:
    """A run as stored: its id plus the record (with samples only when asked for)."""
    id: int
    record: RunRecord


class ResultsStore:
    """Open (creating and migrating if needed) the store at ``path``.

    ``create=False`` refuses a missing file instead of creating one (read-only commands use it).
    """

    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise StoreError(f"no results store at {self.path}",
                                 hint="import results first (edgevlm results import) or pass --store PATH")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            migrate(self._db, str(self.path))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable results store ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------------------
    def add_run(self, record: RunRecord) -> int:
        return self.add_runs([record])[0]

    def add_runs(self, records: Sequence[RunRecord]) -> list[int]:
        """Write runs and all their samples in ONE transaction: all land, or none do."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            ids = [_insert_run(self._db, r) for r in records]
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return ids

    # -- reading -------------------------------------------------------------------------------------------
    def runs(self, *, ids: Iterable[int] | None = None, device: str | None = None, model: str | None = None,
             commit: str | None = None, branch: str | None = None, with_samples: bool = False,
             limit: int | None = None) -> list[StoredRun]:
        """Runs matching every given filter, newest first (``commit`` matches as a prefix)."""
        where, args = [], []
        if ids is not None:
            id_list = [int(i) for i in ids]
            where.append(f"id IN ({','.join('?' * len(id_list))})" if id_list else "0")
            args += id_list
        for column, value in (("device_name", device), ("model_name", model), ("branch", branch)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if commit is not None:
            where.append("lower(git_commit) LIKE ? ESCAPE '\\'")
            args.append(_like_prefix(commit.lower()))
        sql = f"SELECT {_RUN_COLUMNS} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY created DESC, id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        rows = self._db.execute(sql, args).fetchall()
        return [StoredRun(row[0], _row_to_record(row, self.samples(row[0]) if with_samples else {}))
                for row in rows]

    def samples(self, run_id: int) -> dict[str, list[float]]:
        """Every raw sample of a run: {metric: [value per repetition, in order]}."""
        out: dict[str, list[float]] = {}
        for metric, value in self._db.execute(
                "SELECT metric, value FROM samples WHERE run_id = ? ORDER BY metric, rep", (run_id,)):
            out.setdefault(metric, []).append(value)
        return out

    def count(self) -> tuple[int, int]:
        """(runs, samples) in the store."""
        runs = self._db.execute("SELECT count(*) FROM runs").fetchone()[0]
        return runs, self._db.execute("SELECT count(*) FROM samples").fetchone()[0]

    def resolve_ref(self, ref: str) -> list[StoredRun]:
        """A run id (``run:12``, ``#12`` or ``12``), a commit prefix (≥4 hex digits) or a branch name → runs,
        newest first. A ref that means two different things is an error, never a guess."""
        ref = ref.strip()
        explicit = _RUN_REF.fullmatch(ref)
        if explicit:
            found = self.runs(ids=[int(explicit.group(1))])
            if not found:
                raise StoreError(f"no run with id {explicit.group(1)} in {self.path}")
            return found
        readings = {
            "run id": self.runs(ids=[int(ref)]) if ref.isdigit() else [],
            "commit": self.runs(commit=ref) if _HEX.fullmatch(ref) else [],
            "branch": self.runs(branch=ref),
        }
        hits = {kind: runs for kind, runs in readings.items() if runs}
        if len(hits) > 1:
            raise StoreError(f"ref {ref!r} is ambiguous: it matches a {' and a '.join(hits)}",
                             hint="write run:N for a run id, or give a longer commit prefix")
        if not hits:
            if self.count()[0] == 0:
                raise StoreError(f"the results store {self.path} is empty", hint="edgevlm results import FILE…")
            raise StoreError(f"ref {ref!r} matches no run id, commit or branch in {self.path}",
                             hint="see `edgevlm results list`")
        return next(iter(hits.values()))


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _insert_run(db: sqlite3.Connection, r: RunRecord) -> int:
    cur = db.execute(
        "INSERT INTO runs (created, git_commit, branch, source, device_name, device_fingerprint, build_flags, "
        "llama_cpp_commit, model_name, quant, model_hashes, threads, throttled, partial, workload, extra) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (r.created, r.commit, r.branch, r.source, r.device_name, _dump(r.device_fingerprint), _dump(r.build_flags),
         r.llama_cpp_commit, r.model_name, r.quant, _dump(r.model_hashes), r.threads, int(r.throttled),
         int(r.partial), r.workload, _dump(r.extra)))
    run_id = int(cur.lastrowid)
    _insert_samples(db, run_id, r.samples)
    return run_id


def _insert_samples(db: sqlite3.Connection, run_id: int, samples: dict[str, list[float]]) -> None:
    db.executemany("INSERT INTO samples (run_id, metric, rep, value, unit) VALUES (?,?,?,?,?)",
                   [(run_id, m, i, v, METRICS[m].unit) for m, values in samples.items() for i, v in enumerate(values)])


def _dump(obj: object) -> str:
    return json.dumps(obj, sort_keys=True)


def _row_to_record(row: tuple, samples: dict[str, list[float]]) -> RunRecord:
    (_, created, commit, branch, source, device, fingerprint, flags, llama_commit, model, quant, hashes,
     threads, throttled, partial, workload, extra) = row
    record = RunRecord.__new__(RunRecord)  # stored rows were validated on the way in
    record.__dict__.update(
        created=created, commit=commit, branch=branch, source=source, device_name=device,
        device_fingerprint=json.loads(fingerprint), build_flags=json.loads(flags), llama_cpp_commit=llama_commit,
        model_name=model, quant=quant, model_hashes=json.loads(hashes), threads=threads,
        throttled=bool(throttled), partial=bool(partial), workload=workload, extra=json.loads(extra),
        samples=samples)
    return record
