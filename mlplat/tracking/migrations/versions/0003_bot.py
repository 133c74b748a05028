"""bot: Slack events already handled (exactly-once) and the messages that show an object

Revision ID: 0003_bot
Revises: 0001_initial
Create Date: 2026-11-26

``bot_events`` is the exactly-once ledger of the Slack bot: a row per handled command,
button click or alert, keyed by Slack's own ids (see bot/dedup.py). ``bot_messages``
remembers which Slack message shows an approval request or alert, so a decision made by
command or by button updates that one message. Columns are spelled out here (not imported
from the bot package) so this revision stays what it was.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_bot"
down_revision = "0001_initial"
branch_labels = ("bot",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_events",
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("user", sa.String(100), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_key"),
    )
    op.create_index("ix_bot_events_created", "bot_events", ["created_at"], unique=False)
    op.create_table(
        "bot_messages",
        sa.Column("object_type", sa.String(50), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("ts", sa.String(50), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("object_type", "object_id"),
    )


def downgrade() -> None:
    op.drop_table("bot_messages")
    op.drop_index("ix_bot_events_created", table_name="bot_events")
    op.drop_table("bot_events")
