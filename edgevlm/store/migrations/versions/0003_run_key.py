"""An optional idempotency key per run: a writer that may repeat itself (a lab cell retried after its host
died, ``results migrate`` run twice) stores a run once. NULL for runs written without one."""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("run_key", sa.Text, nullable=True))
    op.create_index("runs_run_key", "runs", ["run_key"], unique=True)


def downgrade() -> None:
    op.drop_index("runs_run_key", "runs")
    op.drop_column("runs", "run_key")
