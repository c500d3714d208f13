"""Which database a ``--store`` value means, and a SQLAlchemy engine for it.

A ``postgresql://`` (or ``postgres://``) URL is the shared store of a lab; anything else is a path to the
embedded SQLite file. SQLite connections get the settings the store always had: WAL, a long busy timeout
(parallel bench jobs queue on the write lock), foreign keys on, and ``BEGIN IMMEDIATE`` for writes so two
writers never deadlock upgrading a read lock.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgevlm.errors import StoreError

BUSY_TIMEOUT_MS = 60_000  # a write takes milliseconds; a queue of writers must not time out
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
WRITE = "edgevlm_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


@dataclass(frozen=True)
class StoreLocation:
    """``kind`` is "sqlite" (``path`` set) or "postgresql" (``url`` set); ``display`` never shows a password."""
    kind: str
    path: Path | None = None
    url: str | None = None

    @property
    def display(self) -> str:
        if self.kind == "sqlite":
            return str(self.path)
        from sqlalchemy.engine import make_url
        return make_url(self.url).render_as_string(hide_password=True)


def parse_location(store: str | Path) -> StoreLocation:
    """A postgresql:// URL → PostgreSQL (through psycopg 3); a path → SQLite. Other URL schemes are refused
    rather than taken for a file name."""
    text = str(store)
    scheme, sep, _ = text.partition("://")
    if not sep:
        return StoreLocation("sqlite", path=Path(text))
    if scheme in POSTGRES_SCHEMES:
        return StoreLocation("postgresql", url="postgresql+psycopg://" + text.split("://", 1)[1])
    if scheme == "sqlite":
        return StoreLocation("sqlite", path=Path(text.split(":///", 1)[-1]))
    raise StoreError(f"unknown results store URL scheme {scheme!r} in {text!r}",
                     hint="use postgresql://user@host/db for a shared store, or a file path for SQLite")


def make_engine(location: StoreLocation):
    """A SQLAlchemy engine; errors the driver raises on connect become StoreError at first use."""
    from sqlalchemy import create_engine, event

    if location.kind == "postgresql":
        try:
            return create_engine(location.url, pool_pre_ping=True)
        except ImportError as exc:
            raise StoreError(f"PostgreSQL store needs the lab extra ({exc})",
                             hint="pip install 'edgevlm[lab]'") from None
    engine = create_engine(f"sqlite:///{location.path}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi, _record) -> None:
        dbapi.isolation_level = None  # the driver's implicit BEGIN is replaced by ours below
        cur = dbapi.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine
