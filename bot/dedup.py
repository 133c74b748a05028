"""Exactly-once for Slack deliveries, in the mlplat store so every bot replica shares it.

Keys are Slack's own ids where Slack gives one that a retry repeats and a new request does
not: a slash command's ``trigger_id`` (a retry after a slow ack resends the same body, so
the same trigger id; two deliberate commands get two). A double click on Approve is two
distinct payloads, so decisions are keyed by what they decide, ``decide:<request>``:
the first click wins, every later one is told who decided. Whoever inserts the key first
(a primary key, so concurrent inserts have one winner, across processes) does the work.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()
bot_events = sa.Table(
    "bot_events", metadata,
    sa.Column("event_key", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("user", sa.String(100)),
    sa.Column("created_at", sa.Float(), nullable=False),
    sa.Column("detail", sa.Text()),
)
bot_messages = sa.Table(
    "bot_messages", metadata,
    sa.Column("object_type", sa.String(50), primary_key=True),
    sa.Column("object_id", sa.String(200), primary_key=True),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("ts", sa.String(50), nullable=False),
    sa.Column("created_at", sa.Float(), nullable=False),
)


def claim(store, key: str, *, kind: str, user: str | None = None, detail: dict[str, Any] | None = None) -> bool:
    """True for the first caller with ``key``; False for every later one (a retry or a double click)."""
    row = {"event_key": key[:200], "kind": kind, "user": user, "created_at": time.time(),
           "detail": json.dumps(detail or {}, default=str)}
    try:
        with store.write() as conn:
            conn.execute(bot_events.insert().values(**row))
    except sa.exc.IntegrityError:
        return False
    return True


def claim_within(store, key: str, window_s: float, *, kind: str, user: str | None = None) -> bool:
    """True when ``key`` was not claimed in the last ``window_s`` seconds (then it is, from now).

    For alerts: the same alert within its cool-down is delivered once; after the cool-down
    a still-firing alert is delivered again.
    """
    t = time.time()
    with store.write() as conn:
        moved = conn.execute(bot_events.update().where(bot_events.c.event_key == key[:200],
                                                       bot_events.c.created_at < t - window_s)
                             .values(created_at=t, user=user)).rowcount
        if moved:
            return True
        try:
            with conn.begin_nested():
                conn.execute(bot_events.insert().values(event_key=key[:200], kind=kind, user=user, created_at=t,
                                                        detail="{}"))
        except sa.exc.IntegrityError:
            return False
    return True


def holder(store, key: str) -> dict[str, Any] | None:
    """Who claimed ``key`` and when (to tell a second clicker what happened)."""
    with store.read() as conn:
        row = conn.execute(sa.select(bot_events).where(bot_events.c.event_key == key[:200])).first()
    return dict(row._mapping) if row else None


def remember_message(store, object_type: str, object_id: str, channel: str, ts: str) -> None:
    with store.write() as conn:
        conn.execute(bot_messages.delete().where(bot_messages.c.object_type == object_type,
                                                 bot_messages.c.object_id == object_id))
        conn.execute(bot_messages.insert().values(object_type=object_type, object_id=object_id, channel=channel,
                                                  ts=ts, created_at=time.time()))


def message_of(store, object_type: str, object_id: str) -> tuple[str, str] | None:
    """(channel, ts) of the message showing the object, if the bot posted one."""
    with store.read() as conn:
        row = conn.execute(sa.select(bot_messages.c.channel, bot_messages.c.ts).where(
            bot_messages.c.object_type == object_type, bot_messages.c.object_id == object_id)).first()
    return (row.channel, row.ts) if row else None
