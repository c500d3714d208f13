"""Which database a ``--store`` value means, and a SQLAlchemy engine for it.

A ``postgresql://`` (or ``postgres://``) URL is the shared store of a lab; anything else is a path to the
embedded SQLite file. SQLite connections get the settings the store always had: WAL, a long busy timeout
(parallel bench jobs queue on the write lock), foreign keys on, and ``BEGIN IMMEDIATE`` for writes so two
writers never deadlock upgrading a read lock.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from edgevlm.errors import StoreError

BUSY_TIMEOUT_MS = 60_000  # a write takes milliseconds; a queue of writers must not time out
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
WRITE = "edgevlm_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
# user:password@ in any URL-looking text (greedy to the last @: a password may hold an unescaped @)
_CREDENTIALS = re.compile(r"(://[^/@\s:]*):\S*@")


def redact(text: str) -> str:
    """TEXT with every URL password replaced by ***: store URLs appear in messages, never their secrets."""
    return _CREDENTIALS.sub(r"\1:***@", text)


@dataclass(frozen=True)
class StoreLocation:
    """``kind`` is "sqlite" (``path`` set) or "postgresql" (``url`` set); ``display`` never shows a password."""
    kind: str
    path: Path | None = None
    url: str | None = None

    def redact(self, text: str) -> str:
        """TEXT without this store's password, even where a driver quoted it outside a URL."""
        text = redact(text)
        if self.url:
            password = make_url(self.url).password
            if password:
                text = text.replace(str(password), "***")
        return text

    @property
    def display(self) -> str:
        if self.kind == "sqlite":
            return str(self.path)
        return make_url(self.url).render_as_string(hide_password=True)


def parse_location(store: str | Path) -> StoreLocation:
    """A postgresql:// URL → PostgreSQL (through psycopg 3); a path → SQLite. Other URL schemes are refused
    rather than taken for a file name."""
    text = str(store)
    scheme, sep, _ = text.partition("://")
    if not sep:
        return StoreLocation("sqlite", path=Path(text))
    if scheme in POSTGRES_SCHEMES:
        return StoreLocation("postgresql", url=_checked_url("postgresql+psycopg://" + text.split("://", 1)[1]))
    if scheme == "sqlite":
        return StoreLocation("sqlite", path=Path(text.split(":///", 1)[-1]))
    raise StoreError(f"unknown results store URL scheme {scheme[:40]!r} in {redact(text)[:200]!r}",
                     hint="use postgresql://user@host/db for a shared store, or a file path for SQLite")


def _checked_url(url: str) -> str:
    """The URL if SQLAlchemy can read it (host, port 1-65535, database); else a StoreError without its password."""
    try:
        port = make_url(url).port
    except (ValueError, ArgumentError, TypeError):
        port = -1
    if port is not None and not 0 < port < 65536:
        raise StoreError(f"results store URL {redact(url)[:200]!r} is not a valid URL (host or port)",
                         hint="postgresql://user[:password]@host[:port]/database; [::1] for IPv6 hosts")
    return url


def make_engine(location: StoreLocation, read_only: bool = False):
    """A SQLAlchemy engine; errors the driver raises on connect become StoreError at first use.

    ``read_only``: SQLite opens the file with ``mode=ro`` (a read-only file or folder works, and nothing can
    change its bytes); PostgreSQL runs READ ONLY transactions."""
    if location.kind == "postgresql":
        try:
            engine = create_engine(location.url, pool_pre_ping=True)
        except ImportError as exc:
            raise StoreError(f"PostgreSQL store needs the lab extra ({exc})",
                             hint="pip install 'edgevlm[lab]'") from None
        return engine.execution_options(postgresql_readonly=True) if read_only else engine
    # the URL still names the file, so SQLAlchemy picks its file-database pool; the creator does the opening
    engine = create_engine(f"sqlite:///{location.path}", creator=_sqlite_connect(location.path, read_only))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi, _record) -> None:
        dbapi.isolation_level = None  # the driver's implicit BEGIN is replaced by ours below
        try:
            cur = dbapi.cursor()
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not read_only:  # setting the journal mode writes the file's header
                cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()
        except Exception:
            dbapi.close()  # SQLAlchemy does not close a connection its connect hook failed on (a full disk)
            raise

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine


def _sqlite_connect(path: Path, read_only: bool):
    """A connection factory by URI, so any file name works (``?`` or ``#`` included) and ``mode=ro`` applies."""

    uri = f"file:{quote(str(path.absolute()))}"

    def connect(query: str = "") -> sqlite3.Connection:
        return sqlite3.connect(uri + query, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)

    def connect_read_only() -> sqlite3.Connection:
        conn = connect("?mode=ro")
        try:
            conn.execute("PRAGMA schema_version").fetchone()  # SQLite opens lazily: the first read tells
            return conn
        except sqlite3.OperationalError:
            conn.close()
            # a WAL file in a read-only folder: SQLite cannot create its -shm beside it. Nobody can write
            # there either, so reading it as immutable (no locks, no WAL index) sees exactly what is stored.
            return connect("?immutable=1")

    return connect_read_only if read_only else connect
