"""The store's schema as an ordered list of migrations; ``PRAGMA user_version`` is the applied count.

Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with the version bump, so a
crash mid-migration leaves the previous version intact and concurrent openers never migrate twice.
Append new migrations at the end; never edit one that has shipped.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

from edgevlm.errors import StoreError


def _v1_initial(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE runs (
            id                 INTEGER PRIMARY KEY AUTOINCREMENT,
            created            TEXT NOT NULL,
            git_commit         TEXT NOT NULL DEFAULT '',
            branch             TEXT NOT NULL DEFAULT '',
            source             TEXT NOT NULL CHECK (source IN ('edgevlm', 'llama-bench')),
            device_name        TEXT NOT NULL,
            device_fingerprint TEXT NOT NULL DEFAULT '{}',
            build_flags        TEXT NOT NULL DEFAULT '{}',
            llama_cpp_commit   TEXT NOT NULL DEFAULT '',
            model_name         TEXT NOT NULL,
            quant              TEXT NOT NULL DEFAULT '',
            model_hashes       TEXT NOT NULL DEFAULT '{}',
            threads            INTEGER,
            throttled          INTEGER NOT NULL DEFAULT 0,
            partial            INTEGER NOT NULL DEFAULT 0,
            extra              TEXT NOT NULL DEFAULT '{}'
        )""")
    db.execute("""
        CREATE TABLE samples (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            metric TEXT NOT NULL,
            rep    INTEGER NOT NULL,
            value  REAL NOT NULL,
            unit   TEXT NOT NULL,
            PRIMARY KEY (run_id, metric, rep)
        )""")
    db.execute("CREATE INDEX runs_commit ON runs(git_commit)")
    db.execute("CREATE INDEX runs_branch ON runs(branch)")


def _v2_workload(db: sqlite3.Connection) -> None:
    # v2: the benched shape (e.g. llama-bench pp512 vs tg128) so reports never pool different workloads.
    db.execute("ALTER TABLE runs ADD COLUMN workload TEXT NOT NULL DEFAULT ''")
    db.execute("CREATE INDEX runs_group ON runs(device_name, model_name, quant, workload)")


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1_initial, _v2_workload)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite3.Connection, path: str, upto: int = SCHEMA_VERSION) -> None:
    """Apply the pending migrations (connection in autocommit mode)."""
    for target in range(1, upto + 1):
        if schema_version(db) >= target:  # cheap check outside the lock
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(db)  # re-read under the write lock: another process may have won
            if current < target:
                MIGRATIONS[target - 1](db)
                db.execute(f"PRAGMA user_version = {target}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    found = schema_version(db)
    if found > SCHEMA_VERSION:
        raise StoreError(f"{path}: results store has schema version {found}, this edgevlm knows up to "
                         f"{SCHEMA_VERSION}", hint="upgrade edgevlm, or point --store at another file")
