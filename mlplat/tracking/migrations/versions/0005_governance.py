"""governance: governance_reports (each generated report's summary, for "changed since last report")

Revision ID: 0005_governance
Revises: 0001_initial
Create Date: 2026-11-26

Columns are spelled out here (not imported from mlplat/governance/schema.py) so this
revision stays what it was when the table changes later.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_governance"
down_revision = "0001_initial"
branch_labels = ("governance",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "governance_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_governance_reports_created", "governance_reports", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_governance_reports_created", table_name="governance_reports")
    op.drop_table("governance_reports")
