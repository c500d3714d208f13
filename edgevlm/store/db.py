"""``ResultsStore``: the results store on SQLite (embedded default) or PostgreSQL (a lab's shared store).

SQLAlchemy Core over one schema (:mod:`edgevlm.store.schema`); every write is one transaction.
"""
from __future__ import annotations

import errno
import json
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from edgevlm.errors import StoreError
from edgevlm.files import free_bytes
from edgevlm.store.engine import WRITE, StoreLocation, make_engine, parse_location
from edgevlm.store.metrics import METRICS
from edgevlm.store.record import RunRecord, stored_fields
from edgevlm.store.schema import runs as runs_t
from edgevlm.store.schema import samples as samples_t
from edgevlm.store.schema import REVISIONS, current_revision, upgrade

MAX_ID = 2**63 - 1  # the largest run id (and LIMIT) either engine stores
_HEX = re.compile(r"[0-9a-fA-F]{4,40}")
_RUN_REF = re.compile(r"(?:run:|#)(\d+)")
_STORED = stored_fields()          # (record field, how it is stored): the record definition says
_ENCODE = {"text": lambda v: v, "int": lambda v: v, "bool": int, "json": lambda v: _dump(v)}
_DECODE = {"text": lambda v: v, "int": lambda v: v, "bool": bool, "json": lambda v: json.loads(v)}


@dataclass(frozen=True)
class StoredRun:
    """A run as stored: its id plus the record (with samples only when asked for)."""
    id: int
    record: RunRecord


class ResultsStore:
    """Open (creating and migrating if needed) the store at ``store``: a SQLite path or a postgresql:// URL.

    ``create=False`` refuses a missing SQLite file instead of creating one. ``read_only=True`` (list, export,
    report, ``migrate --from``) never writes: SQLite is opened ``mode=ro`` (a read-only file works, its bytes
    stay as they are); a store at an older schema is read through an upgraded temporary copy.
    ``path`` is the SQLite file, or the URL (password hidden) for PostgreSQL.
    """

    def __init__(self, store: str | Path, *, create: bool = True, read_only: bool = False):
        self.location: StoreLocation = parse_location(store)
        self.path = self.location.path if self.location.kind == "sqlite" else self.location.display
        self.read_only = read_only
        self._snapshot: Path | None = None
        if self.location.kind == "sqlite":
            self._prepare_file(create and not read_only)
        self._engine = make_engine(self.location, read_only)
        self._opening = True
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        self._opening = False

    def _prepare_file(self, create: bool) -> None:
        path = self.location.path
        if path.exists():
            return
        if not create:
            raise StoreError(f"no results store at {self.path}",
                             hint="import results first (edgevlm results import) or pass --store PATH")
        blocker = next((p for p in path.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():  # /dev/null/x.sqlite: mkdir would say "File exists"
            raise StoreError(f"cannot create the results store {path}: {blocker} is not a folder",
                             hint="pass --store with a path in a writable folder")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the results store {path}: {_os_reason(exc)}",
                             hint="pass --store with a path in a writable folder") from None

    def _open(self) -> None:
        if not self.read_only:
            with self._write() as conn:
                upgrade(conn, str(self.path))
            return
        with self._read() as conn:
            current = current_revision(conn, str(self.path))
        if current == REVISIONS[-1]:
            return
        if self.location.kind != "sqlite":
            raise StoreError(f"{self.path} is at an older schema and this command only reads",
                             hint="any writing command (edgevlm results import) upgrades it first")
        self._read_upgraded_copy()

    def _read_upgraded_copy(self) -> None:
        """An older SQLite file is copied (SQLite's backup API, through the read-only connection) into a
        temporary folder and upgraded there: reading never migrates the user's file."""
        folder = Path(tempfile.mkdtemp(prefix="edgevlm-store-"))
        self._snapshot = folder / "snapshot.sqlite"
        raw = self._engine.raw_connection()
        try:
            with sqlite3.connect(self._snapshot) as copy:
                raw.driver_connection.backup(copy)
        finally:
            raw.close()
        self._engine.dispose()
        self._engine = make_engine(StoreLocation("sqlite", path=self._snapshot))
        with self._write() as conn:
            upgrade(conn, str(self.path))

    def _reason(self, exc: BaseException) -> str:
        """The driver's first line, password-free; SQLite's vague "disk I/O error" on a full disk says so."""
        text = _reason(exc)
        if "disk is full" in text or (self.location.kind == "sqlite" and "disk I/O error" in text
                                       and _nearly_full(self.location.path)):
            return "disk full"
        return self.location.redact(text)

    def _hint(self, exc: BaseException) -> str | None:
        if self._reason(exc) == "disk full":
            return "free space on the disk that holds the store, then run the command again"
        if "readonly database" in _reason(exc):
            return "the store file or its folder is read-only: pass --store with a writable path"
        return None

    @property
    def dialect(self) -> str:
        return self.location.kind

    def close(self) -> None:
        self._engine.dispose()
        if self._snapshot is not None:
            shutil.rmtree(self._snapshot.parent, ignore_errors=True)
            self._snapshot = None

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One transaction that takes the write lock up front (SQLite BEGIN IMMEDIATE)."""
        if self.read_only and self._snapshot is None:
            raise StoreError(f"{self.path} was opened read-only")
        with self._errors(), self._engine.connect() as conn:
            with conn.execution_options(**{WRITE: True}).begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._errors(), self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """A database error after opening (a full disk mid-import, a server gone) is a StoreError, not a
        traceback; the transaction it cut short was rolled back."""
        try:
            yield
            return
        except sa.exc.DBAPIError as exc:
            reason, hint = self._reason(exc), self._hint(exc)
        # raised outside the except block: the driver's exception (whose frames hold the connection, and so
        # the file open) is not kept alive as this error's context
        what = f"not a usable results store ({reason})" if self._opening else reason
        raise StoreError(f"{self.path}: {what}", hint=hint)

    # -- writing -------------------------------------------------------------------------------------------
    def add_run(self, record: RunRecord) -> int:
        return self.add_runs([record])[0]

    def add_runs(self, records: Sequence[RunRecord], *, keys: Sequence[str | None] | None = None) -> list[int]:
        """Write runs and all their samples in ONE transaction: all land, or none do.

        ``keys`` (one per record, or None) make the write idempotent: a run whose key is already stored is
        not written again and its existing id is returned, so a repeated writer stores each run once.
        """
        return [run_id for run_id, _ in self.write_runs(records, keys=keys)]

    def write_runs(self, records: Sequence[RunRecord], *, keys: Sequence[str | None] | None = None
                   ) -> list[tuple[int, bool]]:
        """``add_runs`` telling, per record, (its id, whether this call wrote it): a run whose key was already
        stored — before, or earlier in the same call — is not written again. Counts come from here."""
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
        query = sa.select(runs_t.c.id, *(runs_t.c[how.column] for _, how in _STORED))
        if ids is not None:  # an id beyond a database integer names no run (and would overflow the driver)
            query = query.where(runs_t.c.id.in_([int(i) for i in ids if 0 <= int(i) <= MAX_ID]))
        for column, value in (("device_name", device), ("model_name", model), ("branch", branch)):
            if value is not None:
                query = query.where(runs_t.c[column] == value)
        if commit is not None:
            query = query.where(sa.func.lower(runs_t.c.git_commit).like(_like_prefix(commit.lower()), escape="\\"))
        query = query.order_by(runs_t.c.created.desc(), runs_t.c.id.desc())
        if limit:
            query = query.limit(min(int(limit), MAX_ID))
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


def _insert_run(db: sa.Connection, r: RunRecord, key: str | None = None) -> tuple[int, bool]:
    if key is not None:
        found = db.execute(sa.select(runs_t.c.id).where(runs_t.c.run_key == key)).scalar()
        if found is not None:  # stored before by this same writer: once is enough
            return int(found), False
    columns = {how.column: _ENCODE[how.codec](getattr(r, name)) for name, how in _STORED}
    result = db.execute(sa.insert(runs_t).values(**columns, run_key=key))
    run_id = int(result.inserted_primary_key[0])
    _insert_samples(db, run_id, r.samples)
    return run_id, True


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
    lines = str(getattr(exc, "orig", exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _os_reason(exc: OSError) -> str:
    return "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))


def _nearly_full(path: Path, slack: int = 1 << 20) -> bool:
    free = free_bytes(path.parent)
    return free is not None and free < slack


def _dump(obj: object) -> str:
    return json.dumps(obj, sort_keys=True)


def _row_to_record(row: sa.Row, samples: dict[str, list[float]]) -> RunRecord:
    values = row._mapping
    record = RunRecord.__new__(RunRecord)  # stored rows were validated on the way in
    record.__dict__.update({name: _DECODE[how.codec](values[how.column]) for name, how in _STORED},
                           samples=samples)
    return record
