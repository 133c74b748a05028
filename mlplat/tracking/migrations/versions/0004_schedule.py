"""scheduler bookkeeping: schedule_runs (one row per job execution, unique per fire slot)

Revision ID: 0004_schedule
Revises: 0001_initial
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_schedule"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=200), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "slot", name="uq_schedule_runs_job_slot"),
    )
    op.create_index("ix_schedule_runs_job_started", "schedule_runs", ["job", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_schedule_runs_job_started", table_name="schedule_runs")
    op.drop_table("schedule_runs")
