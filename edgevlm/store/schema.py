"""The store's tables (SQLAlchemy Core) and bringing a database up to them with Alembic.

One chain of migrations (``edgevlm/store/migrations/versions``) serves SQLite and PostgreSQL. ``upgrade``
runs inside the opener's write transaction — SQLite ``BEGIN IMMEDIATE``, PostgreSQL an advisory
transaction lock — so concurrent first openers migrate once and a crash mid-migration leaves the previous
version intact. SQLite files written before Alembic (``PRAGMA user_version`` 1 or 2, no alembic_version
table) are stamped at the matching revision, then upgraded; on SQLite ``user_version`` keeps counting the
applied revisions, so an older edgevlm still refuses a newer file instead of misreading it.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from edgevlm.errors import StoreError
from edgevlm.store.record import stored_fields

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# the migration chain, oldest first: one file per revision, named <revision>_<what>.py (a test checks Alembic agrees)
REVISIONS = tuple(sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py")))
SCHEMA_VERSION = len(REVISIONS)
# a record field's column type and nullability, by how it is stored (edgevlm.store.record.Stored.codec)
_SQL_TYPES = {"text": (sa.Text, False), "json": (sa.Text, False), "bool": (sa.Integer, False), "int": (sa.Integer, True)}
_PG_LOCK = 0x6564_6776  # "edgv": the advisory lock that serialises migrations on one PostgreSQL database

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # one column per stored record field (JSON objects as text, as since v1); the record says which
    *(sa.Column(how.column, _SQL_TYPES[how.codec][0], nullable=_SQL_TYPES[how.codec][1])
      for _, how in stored_fields()),
    sa.Column("run_key", sa.Text),
    sa.Index("runs_commit", "git_commit"),
    sa.Index("runs_branch", "branch"),
    sa.Index("runs_group", "device_name", "model_name", "quant", "workload"),
    sa.Index("runs_run_key", "run_key", unique=True),
)
samples = sa.Table(
    "samples", metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("rep", sa.Integer, primary_key=True),
    sa.Column("value", sa.Double().with_variant(sa.REAL(), "sqlite"), nullable=False),  # PG REAL is 4 bytes
    sa.Column("unit", sa.Text, nullable=False),
)


def upgrade(conn: sa.Connection, where: str) -> None:
    """Bring the database on ``conn`` (inside a write transaction) to the newest revision."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
    current = current_revision(conn, where)
    if current != REVISIONS[-1]:
        _run_alembic(conn, current)
    if dialect == "sqlite":
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")


def current_revision(conn: sa.Connection, where: str) -> str | None:
    """The applied revision (None: empty database); a newer one than this edgevlm knows is an error."""
    legacy = conn.exec_driver_sql("PRAGMA user_version").scalar() if conn.dialect.name == "sqlite" else 0
    if legacy > SCHEMA_VERSION:
        raise _too_new(where, legacy)
    if sa.inspect(conn).has_table("alembic_version"):
        found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        if found is not None and found not in REVISIONS:
            raise _too_new(where, found)
        return found
    return REVISIONS[legacy - 1] if legacy else None  # a PRAGMA-era file: user_version N = revision N


def _too_new(where: str, version: object) -> StoreError:
    return StoreError(f"{where}: results store has schema version {version}, this edgevlm knows up to "
                      f"{SCHEMA_VERSION}", hint="upgrade edgevlm, or point --store at another store")


def _run_alembic(conn: sa.Connection, current: str | None) -> None:
    from alembic import command  # lazy: alembic, store migrations only

    cfg = alembic_config(conn)
    if current is not None and not sa.inspect(conn).has_table("alembic_version"):
        command.stamp(cfg, current)  # adopt a PRAGMA-era SQLite file at the revision it already has
    command.upgrade(cfg, "head")


def alembic_config(conn: sa.Connection | None = None):
    from alembic.config import Config  # lazy: alembic, store migrations only

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg
