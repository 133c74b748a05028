"""audit trail anchored outside its rows: a MAC per entry, signed head checkpoints

Revision ID: 0011_audit_anchor
Revises: 0010_ui_indexes
Create Date: 2026-12-02

``audit_log.mac`` is an HMAC of each entry's hash with a key kept outside the database
(MLPLAT_AUDIT_KEY or a key file, mlplat/tracking/anchor.py), so an edited entry whose chain
was recomputed no longer verifies. ``audit_checkpoints`` holds signed heads of the trail,
so entries deleted from its end are detected. Entries written before this revision keep a
null MAC and are reported as unsigned by ``mlplat audit verify``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_audit_anchor"
down_revision = "0010_ui_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("mac", sa.String(64), nullable=True))
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("prev_mac", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("mac")
