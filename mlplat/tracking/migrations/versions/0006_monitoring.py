"""monitoring: monitor_checks (each drift/performance/latency check) and monitor_alerts (dedup ledger)

Revision ID: 0006_monitoring
Revises: 0001_initial
Create Date: 2026-11-26

Columns are spelled out here (not imported from mlplat/monitoring/schema.py) so this
revision stays what it was when the tables change later.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_monitoring"
down_revision = "0001_initial"
branch_labels = ("monitoring",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("window_start", sa.Float(), nullable=True),
        sa.Column("window_end", sa.Float(), nullable=True),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("n_rows", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("report_json", sa.Text(), nullable=True),
        sa.Column("report_html", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_checks_model_created", "monitor_checks", ["model", "created_at"], unique=False)
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("dedup_key", sa.String(length=400), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=True),
        sa.Column("sent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_alerts_key_created", "monitor_alerts", ["dedup_key", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_monitor_alerts_key_created", table_name="monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_index("ix_monitor_checks_model_created", table_name="monitor_checks")
    op.drop_table("monitor_checks")
