"""The append-only, hash-chained audit trail.

Each entry's hash covers its own fields and the previous entry's hash, so editing,
deleting or reordering any entry breaks every hash after it and ``verify`` finds the
first broken sequence number. The chain alone cannot see entries cut from its end or a
chain recomputed after an edit: each entry's MAC (with a key kept outside the database),
the signed checkpoints and the witness file (``anchor.py``) can. Appends run inside the caller's write transaction (the
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

from mlplat import redact
from mlplat.tracking import anchor
from mlplat.tracking.schema import audit_checkpoints, audit_log

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
    # masked before hashing: a secret in a payload could never be scrubbed later without
    # breaking the chain
    body = json.dumps(redact.value(payload or {}), sort_keys=True, default=str)
    digest = _digest(body)
    ts = time.time()
    row = dict(seq=seq, ts=ts, actor=actor, source=source, action=action, object_type=object_type,
               object_id=str(object_id), payload=body, payload_digest=digest, prev_hash=prev)
    row["hash"] = _entry_hash(seq, ts, actor, source, action, object_type, str(object_id), digest, prev)
    row["mac"] = anchor.entry_mac(row["hash"])  # the key is not in the database (tracking/anchor.py)
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
    signed: int = 0  # entries whose MAC verified
    unsigned: int = 0  # entries from before migration 0011_audit_anchor (no MAC), all at the start
    checkpoints: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    key_id: str = ""
    witness: str = ""  # what the witness file said (see tracking/anchor.py)


def store_id(conn: sa.Connection) -> str:
    """The store's identity for the witness file: its URL, password masked."""
    return conn.engine.url.render_as_string(hide_password=True)


def _walk(conn: sa.Connection, batch: int, wanted: set[int]) -> tuple[Verification, dict[int, str], str]:
    """The chain from the start: hashes, MACs; returns (result, hashes of ``wanted`` seqs, entry 1's hash)."""
    prev, expected_seq, count, signed, unsigned = GENESIS, 1, 0, 0, 0
    last_seq, first = 0, GENESIS
    seen: dict[int, str] = {}

    def result(ok: bool, bad: int | None = None, reason: str = "") -> Verification:
        return Verification(ok, count, bad, reason, signed=signed, unsigned=unsigned, head_seq=last_seq,
                            head_hash=prev, key_id=anchor.key_id())

    while True:
        rows = conn.execute(
            sa.select(audit_log).where(audit_log.c.seq > last_seq).order_by(audit_log.c.seq).limit(batch)
        ).all()
        if not rows:
            return result(True), seen, first
        for r in rows:
            if r.seq != expected_seq:
                return result(False, expected_seq, f"entry {expected_seq} is missing (next is {r.seq})"), seen, first
            if r.prev_hash != prev:
                return result(False, r.seq, f"entry {r.seq} does not follow entry {r.seq - 1}"), seen, first
            if _digest(r.payload) != r.payload_digest:
                return result(False, r.seq, f"entry {r.seq}'s payload was changed"), seen, first
            h = _entry_hash(r.seq, r.ts, r.actor, r.source, r.action, r.object_type, r.object_id,
                            r.payload_digest, r.prev_hash)
            if h != r.hash:
                return result(False, r.seq, f"entry {r.seq} was edited (hash mismatch)"), seen, first
            if r.mac is None:
                if signed:
                    return result(False, r.seq, f"entry {r.seq} has no MAC although earlier entries are signed "
                                                "(it was rewritten without the audit key)"), seen, first
                unsigned += 1
            elif not anchor.same(r.mac, anchor.entry_mac(r.hash)):
                return result(False, r.seq, f"entry {r.seq}'s MAC does not match: it was rewritten (the chain "
                                            f"recomputed) or signed with another key than this one "
                                            f"(key id {anchor.key_id()}; see docs/governance.md)"), seen, first
            else:
                signed += 1
            if r.seq == 1:
                first = r.hash
            if r.seq in wanted:
                seen[r.seq] = r.hash
            prev, expected_seq, count, last_seq = r.hash, r.seq + 1, count + 1, r.seq


def verify(conn: sa.Connection, batch: int = 5000, *, remember: bool = True) -> Verification:
    """Walk the chain from the start; report the first entry that does not verify, then compare
    the signed checkpoints and the witness file with the head (see tracking/anchor.py).

    ``remember``: a verified head is written to the witness file."""
    cps = conn.execute(sa.select(audit_checkpoints).order_by(audit_checkpoints.c.id)).all()
    v, seen, first = _walk(conn, batch, {c.seq for c in cps})
    v.checkpoints = len(cps)
    if not v.ok:
        return v
    prev_mac = GENESIS
    for c in cps:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(c.ts))
        if not anchor.same(c.mac, anchor.checkpoint_mac(c.seq, c.hash, c.ts, prev_mac)):
            why = ("a checkpoint before it was deleted, or it was edited" if c.prev_mac != prev_mac
                   else "it was edited, or signed with another key")
            return _broken(v, c.seq, f"checkpoint {c.id} ({when}) does not verify: {why}")
        if c.seq > v.head_seq:
            return _broken(v, v.head_seq + 1, f"the trail ends at entry {v.head_seq} but checkpoint {c.id} "
                                              f"({when}) signed entry {c.seq}: entries were deleted from the end")
        if c.seq and seen.get(c.seq) != c.hash:
            return _broken(v, c.seq, f"entry {c.seq} is not the one checkpoint {c.id} ({when}) signed: "
                                     "the trail was rewritten from there")
        prev_mac = c.mac
    sid = store_id(conn)
    seen_here = anchor.witnessed(sid)
    reset = False
    if seen_here:
        w_seq, w_hash, w_first = int(seen_here["seq"]), str(seen_here["hash"]), seen_here.get("first")
        if w_first and v.head_seq and first != w_first and not v.unsigned:
            reset = True  # another trail at the same URL, every entry signed: a store made anew
            v.witness = f"a new trail at this URL (the one seen before had {w_seq} entries)"
        elif w_seq > v.head_seq:
            return _broken(v, v.head_seq + 1, f"the trail ends at entry {v.head_seq} but this machine saw entry "
                                              f"{w_seq} (witness file {anchor.witness_path()}): entries were "
                                              "deleted from the end")
        else:
            w_seen = _hash_at(conn, w_seq) if w_seq else GENESIS
            if w_seq and w_seen != w_hash:
                return _broken(v, w_seq, f"entry {w_seq} differs from the one this machine saw (witness file "
                                         f"{anchor.witness_path()}): the trail was rewritten")
            v.witness = f"agrees with entry {w_seq} seen on this machine"
    if remember:
        anchor.witness(sid, v.head_seq, v.head_hash, time.time(), first, reset=reset)
    return v


def _hash_at(conn: sa.Connection, seq: int) -> str | None:
    return conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar()


def _broken(v: Verification, seq: int, reason: str) -> Verification:
    v.ok, v.first_bad_seq, v.reason = False, seq, reason
    return v


def checkpoint(conn: sa.Connection, *, actor: str, source: str) -> dict[str, Any]:
    """Sign the trail's head in the caller's write transaction (and tell the witness file)."""
    seq, prev_hash = _chain_tail(conn)
    head_seq = seq - 1
    last = conn.execute(sa.select(audit_checkpoints.c.mac).order_by(audit_checkpoints.c.id.desc()).limit(1)).scalar()
    prev_mac = last or GENESIS
    ts = time.time()
    row = dict(seq=head_seq, hash=prev_hash, ts=ts, actor=actor, source=source, key_id=anchor.key_id(),
               prev_mac=prev_mac, mac=anchor.checkpoint_mac(head_seq, prev_hash, ts, prev_mac))
    cid = conn.execute(audit_checkpoints.insert().values(**row)).inserted_primary_key[0]
    first = _hash_at(conn, 1) or GENESIS
    anchor.witness(store_id(conn), head_seq, prev_hash, ts, first)
    return {"id": cid, **row}


def checkpoints(conn: sa.Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The newest signed checkpoints, newest first."""
    q = sa.select(audit_checkpoints).order_by(audit_checkpoints.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(q)]


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
