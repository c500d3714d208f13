"""PRAGMA user_version 2: the benched shape (e.g. llama-bench pp512 vs tg128), so reports never pool
different workloads."""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("workload", sa.Text, nullable=False, server_default=""))
    op.create_index("runs_group", "runs", ["device_name", "model_name", "quant", "workload"])


def downgrade() -> None:
    op.drop_index("runs_group", "runs")
    op.drop_column("runs", "workload")
