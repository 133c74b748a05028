"""sweep driver liveness: host, pid and heartbeat_at of the process that runs a sweep

Revision ID: 0007_sweep_driver
Revises: 0002_store_scale
Create Date: 2026-11-26

A sweep whose driver (`mlplat train -m`) is killed cannot close itself; these columns let
`mlplat runs cleanup` (and the next `mlplat train`) tell it from a live one, as runs do.
Sweeps created before this revision have no driver recorded and are never judged dead.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_sweep_driver"
down_revision = "0002_store_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sweeps") as batch:
        batch.add_column(sa.Column("host", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sweeps") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("pid")
        batch.drop_column("host")
