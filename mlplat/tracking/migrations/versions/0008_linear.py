"""merge the six branches of the first wave into one line

Revision ID: 0008_linear
Revises: 0002_registry, 0003_bot, 0004_schedule, 0005_governance, 0006_monitoring, 0007_sweep_driver
Create Date: 2026-12-01

Revisions 0002-0006 each branched from 0001, so a store carried six heads as its "schema
version". This revision changes no table: it joins those heads, so from here the history is
one chain, a store has one version and every new migration has exactly one parent.
"""

revision = "0008_linear"
down_revision = ("0002_registry", "0003_bot", "0004_schedule", "0005_governance", "0006_monitoring", "0007_sweep_driver")  # noqa: E501 (one line: revisions.py reads it without Alembic)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
