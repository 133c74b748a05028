"""The append-only, hash-chained audit trail.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
deleting or reordering any entry breaks every hash after it and ``verify`` finds the
first broken sequence number. Appends run inside the caller's write transaction (the
action and its audit entry commit together or not at all) and are serialised: SQLite by
its ``BEGIN IMMEDIATE`` write lock, PostgreSQL by a transaction-scoped advisory lock.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mlplat.tracking.schema import audit_log

GENESIS = "0" * 64
_ADVISORY_KEY = 7216002


def _digest(payload_json: str) -> str:
    return hashlib.sha256(payload_json.encode()).hexdigest()


def _entry_hash(seq: int, ts: float, actor: str, source: str, action: str, object_type: str,
                object_id: str, payload_digest: str, prev_hash: str) -> str:
    material = "|".join([str(seq), repr(ts), actor, source, action, object_type, object_id, payload_digest, prev_hash])
    return hashlib.sha256(material.encode()).hexdigest()


def _chain_tail(conn: sa.Connection) -> tuple[int, str]:
    """(next seq, previous hash), after taking the chain's lock (PostgreSQL; SQLite's writer holds it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
    last = conn.execute(
        sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    return (last.seq + 1, last.hash) if last else (1, GENESIS)


def _row(seq: int, prev: str, *, actor: str, source: str, action: str, object_type: str, object_id: str,
         payload: dict[str, Any] | None) -> dict:
    body = json.dumps(payload or {}, sort_keys=True, default=str)
    digest = _digest(body)
    ts = time.time()
    row = dict(seq=seq, ts=ts, actor=actor, source=source, action=action, object_type=object_type,
               object_id=str(object_id), payload=body, payload_digest=digest, prev_hash=prev)
    row["hash"] = _entry_hash(seq, ts, actor, source, action, object_type, str(object_id), digest, prev)
    return row


def append(conn: sa.Connection, *, actor: str, source: str, action: str, object_type: str, object_id: str,
           payload: dict[str, Any] | None = None) -> int:
    """Append one entry in the caller's transaction; returns its sequence number."""
    seq, prev = _chain_tail(conn)
    conn.execute(audit_log.insert().values(**_row(seq, prev, actor=actor, source=source, action=action,
                                                  object_type=object_type, object_id=object_id, payload=payload)))
    return seq


def append_many(conn: sa.Connection, events: list[dict[str, Any]]) -> list[int]:
    """Append several entries (each the keyword arguments of ``append``) with one multi-row insert.

    Same chain as calling ``append`` for each in order; batched writers (a sweep's trials)
    use it because per-entry round trips dominated their write time.
    """
    if not events:
        return []
    seq, prev = _chain_tail(conn)
    rows = []
    for event in events:
        row = _row(seq, prev, **{"payload": None, **event})
        rows.append(row)
        seq, prev = seq + 1, row["hash"]
    conn.execute(audit_log.insert(), rows)
    return [r["seq"] for r in rows]


@dataclass
class Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify(conn: sa.Connection, batch: int = 5000) -> Verification:
    """Walk the chain from the start; report the first entry that does not verify."""
    prev, expected_seq, count = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = conn.execute(
            sa.select(audit_log).where(audit_log.c.seq > last_seq).order_by(audit_log.c.seq).limit(batch)
        ).all()
        if not rows:
            return Verification(True, count)
        for r in rows:
            if r.seq != expected_seq:
                return Verification(False, count, expected_seq, f"entry {expected_seq} is missing (next is {r.seq})")
            if r.prev_hash != prev:
                return Verification(False, count, r.seq, f"entry {r.seq} does not follow entry {r.seq - 1}")
            if _digest(r.payload) != r.payload_digest:
                return Verification(False, count, r.seq, f"entry {r.seq}'s payload was changed")
            h = _entry_hash(r.seq, r.ts, r.actor, r.source, r.action, r.object_type, r.object_id,
                            r.payload_digest, r.prev_hash)
            if h != r.hash:
                return Verification(False, count, r.seq, f"entry {r.seq} was edited (hash mismatch)")
            prev, expected_seq, count, last_seq = r.hash, r.seq + 1, count + 1, r.seq


def entries(conn: sa.Connection, *, object_id: str | None = None, object_type: str | None = None,
            action: str | None = None, limit: int = 100, before_seq: int | None = None) -> list[dict]:
    """Newest first, filtered; page with ``before_seq``."""
    q = sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
    if object_id:
        q = q.where(audit_log.c.object_id == object_id)
    if object_type:
        q = q.where(audit_log.c.object_type == object_type)
    if action:
        q = q.where(audit_log.c.action == action)
    if before_seq:
        q = q.where(audit_log.c.seq < before_seq)
    return [dict(r._mapping) for r in conn.execute(q)]
