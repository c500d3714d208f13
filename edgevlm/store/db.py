"""``ResultsStore``: the results store on SQLite (embedded default) or PostgreSQL (a lab's shared store).

SQLAlchemy Core over one schema (:mod:`edgevlm.store.schema`); every write is one transaction.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from edgevlm.errors import StoreError
from edgevlm.store.engine import WRITE, StoreLocation, make_engine, parse_location
from edgevlm.store.metrics import METRICS
from edgevlm.store.record import RunRecord
from edgevlm.store.schema import runs as runs_t
from edgevlm.store.schema import samples as samples_t
from edgevlm.store.schema import upgrade

_HEX = re.compile(r"[0-9a-fA-F]{4,40}")
_RUN_REF = re.compile(r"(?:run:|#)(\d+)")
_RUN_COLUMNS = ("id", "created", "git_commit", "branch", "source", "device_name", "device_fingerprint",
                "build_flags", "llama_cpp_commit", "model_name", "quant", "model_hashes", "threads", "throttled",
                "partial", "workload", "extra")


@dataclass(frozen=True)
class StoredRun:
    """A run as stored: its id plus the record (with samples only when asked for)."""
    id: int
    record: RunRecord


class ResultsStore:
    """Open (creating and migrating if needed) the store at ``store``: a SQLite path or a postgresql:// URL.

    ``create=False`` refuses a missing SQLite file instead of creating one (read-only commands use it).
    ``path`` is the SQLite file, or the URL (password hidden) for PostgreSQL.
    """

    def __init__(self, store: str | Path, *, create: bool = True):
        self.location: StoreLocation = parse_location(store)
        self.path = self.location.path if self.location.kind == "sqlite" else self.location.display
        if self.location.kind == "sqlite" and not self.location.path.exists():
            if not create:
                raise StoreError(f"no results store at {self.path}",
                                 hint="import results first (edgevlm results import) or pass --store PATH")
            self.location.path.parent.mkdir(parents=True, exist_ok=True)
        self._engine = make_engine(self.location)
        try:
            with self._write() as conn:
                upgrade(conn, str(self.path))
        except sa.exc.DBAPIError as exc:
            self._engine.dispose()
            raise StoreError(f"{self.path}: not a usable results store ({_reason(exc)})") from None
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def dialect(self) -> str:
        return self.location.kind

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One transaction that takes the write lock up front (SQLite BEGIN IMMEDIATE)."""
        with self._engine.connect() as conn:
            with conn.execution_options(**{WRITE: True}).begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    # -- writing -------------------------------------------------------------------------------------------
    def add_run(self, record: RunRecord) -> int:
        return self.add_runs([record])[0]

    def add_runs(self, records: Sequence[RunRecord], *, keys: Sequence[str | None] | None = None) -> list[int]:
        """Write runs and all their samples in ONE transaction: all land, or none do.

        ``keys`` (one per record, or None) make the write idempotent: a run whose key is already stored is
        not written again and its existing id is returned, so a repeated writer stores each run once.
        """
        keys = list(keys) if keys is not None else [None] * len(records)
        if len(keys) != len(records):
            raise StoreError(f"{len(records)} runs but {len(keys)} run keys")
        with self._write() as conn:
            return [_insert_run(conn, r, k) for r, k in zip(records, keys)]

    # -- reading -------------------------------------------------------------------------------------------
    def runs(self, *, ids: Iterable[int] | None = None, device: str | None = None, model: str | None = None,
             commit: str | None = None, branch: str | None = None, with_samples: bool = False,
             limit: int | None = None) -> list[StoredRun]:
        """Runs matching every given filter, newest first (``commit`` matches as a prefix)."""
        query = sa.select(*(runs_t.c[c] for c in _RUN_COLUMNS))
        if ids is not None:
            query = query.where(runs_t.c.id.in_([int(i) for i in ids]))
        for column, value in (("device_name", device), ("model_name", model), ("branch", branch)):
            if value is not None:
                query = query.where(runs_t.c[column] == value)
        if commit is not None:
            query = query.where(sa.func.lower(runs_t.c.git_commit).like(_like_prefix(commit.lower()), escape="\\"))
        query = query.order_by(runs_t.c.created.desc(), runs_t.c.id.desc())
        if limit:
            query = query.limit(int(limit))
        with self._read() as conn:
            rows = conn.execute(query).all()
            return [StoredRun(row[0], _row_to_record(row, _samples(conn, row[0]) if with_samples else {}))
                    for row in rows]

    def samples(self, run_id: int) -> dict[str, list[float]]:
        """Every raw sample of a run: {metric: [value per repetition, in order]}."""
        with self._read() as conn:
            return _samples(conn, run_id)

    def count(self) -> tuple[int, int]:
        """(runs, samples) in the store."""
        with self._read() as conn:
            n_runs = conn.execute(sa.select(sa.func.count()).select_from(runs_t)).scalar_one()
            return n_runs, conn.execute(sa.select(sa.func.count()).select_from(samples_t)).scalar_one()

    def run_keys(self) -> dict[int, str]:
        """{run id: run key} of the runs stored with a key."""
        with self._read() as conn:
            rows = conn.execute(sa.select(runs_t.c.id, runs_t.c.run_key).where(runs_t.c.run_key.is_not(None)))
            return {i: k for i, k in rows}

    def run_ids_for_keys(self, keys: Iterable[str]) -> dict[str, int]:
        """{run key: run id} for the given keys that are stored."""
        keys = list(keys)
        if not keys:
            return {}
        with self._read() as conn:
            rows = conn.execute(sa.select(runs_t.c.run_key, runs_t.c.id).where(runs_t.c.run_key.in_(keys)))
            return {k: i for k, i in rows}

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


def _insert_run(db: sa.Connection, r: RunRecord, key: str | None = None) -> int:
    if key is not None:
        found = db.execute(sa.select(runs_t.c.id).where(runs_t.c.run_key == key)).scalar()
        if found is not None:  # stored before by this same writer: once is enough
            return int(found)
    result = db.execute(sa.insert(runs_t).values(
        created=r.created, git_commit=r.commit, branch=r.branch, source=r.source, device_name=r.device_name,
        device_fingerprint=_dump(r.device_fingerprint), build_flags=_dump(r.build_flags),
        llama_cpp_commit=r.llama_cpp_commit, model_name=r.model_name, quant=r.quant,
        model_hashes=_dump(r.model_hashes), threads=r.threads, throttled=int(r.throttled), partial=int(r.partial),
        workload=r.workload, extra=_dump(r.extra), run_key=key))
    run_id = int(result.inserted_primary_key[0])
    _insert_samples(db, run_id, r.samples)
    return run_id


def _insert_samples(db: sa.Connection, run_id: int, samples: dict[str, list[float]]) -> None:
    rows = [dict(run_id=run_id, metric=m, rep=i, value=v, unit=METRICS[m].unit)
            for m, values in samples.items() for i, v in enumerate(values)]
    if rows:
        db.execute(sa.insert(samples_t), rows)


def _samples(db: sa.Connection, run_id: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    query = (sa.select(samples_t.c.metric, samples_t.c.value).where(samples_t.c.run_id == run_id)
             .order_by(samples_t.c.metric, samples_t.c.rep))
    for metric, value in db.execute(query):
        out.setdefault(metric, []).append(value)
    return out


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


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
