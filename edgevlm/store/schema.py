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

REVISIONS = ("0001", "0002", "0003")  # the migration chain, oldest first (a test checks Alembic agrees)
SCHEMA_VERSION = len(REVISIONS)
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_LOCK = 0x6564_6776  # "edgv": the advisory lock that serialises migrations on one PostgreSQL database

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created", sa.Text, nullable=False),
    sa.Column("git_commit", sa.Text, nullable=False),
    sa.Column("branch", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("device_name", sa.Text, nullable=False),
    sa.Column("device_fingerprint", sa.Text, nullable=False),  # JSON text, as since v1
    sa.Column("build_flags", sa.Text, nullable=False),
    sa.Column("llama_cpp_commit", sa.Text, nullable=False),
    sa.Column("model_name", sa.Text, nullable=False),
    sa.Column("quant", sa.Text, nullable=False),
    sa.Column("model_hashes", sa.Text, nullable=False),
    sa.Column("threads", sa.Integer),
    sa.Column("throttled", sa.Integer, nullable=False),
    sa.Column("partial", sa.Integer, nullable=False),
    sa.Column("extra", sa.Text, nullable=False),
    sa.Column("workload", sa.Text, nullable=False),
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
    from alembic import command

    cfg = alembic_config(conn)
    if current is not None and not sa.inspect(conn).has_table("alembic_version"):
        command.stamp(cfg, current)  # adopt a PRAGMA-era SQLite file at the revision it already has
    command.upgrade(cfg, "head")


def alembic_config(conn: sa.Connection | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg
