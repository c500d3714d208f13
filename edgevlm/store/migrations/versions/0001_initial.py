"""The store as it shipped with PRAGMA user_version 1: runs and their raw samples.

Frozen: the SQLite DDL this emits is the v1 schema (tests compare it); PostgreSQL gets the same columns,
with an identity key and double-precision values (its REAL is 4 bytes).
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_VALUE = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("git_commit", sa.Text, nullable=False, server_default=""),
        sa.Column("branch", sa.Text, nullable=False, server_default=""),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("device_name", sa.Text, nullable=False),
        sa.Column("device_fingerprint", sa.Text, nullable=False, server_default="{}"),
        sa.Column("build_flags", sa.Text, nullable=False, server_default="{}"),
        sa.Column("llama_cpp_commit", sa.Text, nullable=False, server_default=""),
        sa.Column("model_name", sa.Text, nullable=False),
        sa.Column("quant", sa.Text, nullable=False, server_default=""),
        sa.Column("model_hashes", sa.Text, nullable=False, server_default="{}"),
        sa.Column("threads", sa.Integer),
        sa.Column("throttled", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("partial", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
        sa.CheckConstraint("source IN ('edgevlm', 'llama-bench')", name="runs_source"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "samples",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("rep", sa.Integer, nullable=False),
        sa.Column("value", _VALUE, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "metric", "rep"),
    )
    op.create_index("runs_commit", "runs", ["git_commit"])
    op.create_index("runs_branch", "runs", ["branch"])


def downgrade() -> None:
    op.drop_table("samples")
    op.drop_table("runs")
