"""Replay the audit trail against the registry's tables: every row must be explained by it.

Every registry write appends its audit entry in the same transaction (versions.register,
aliases.move, approvals.*), so the trail predicts the tables: which versions exist and
with which model digest and run, where each alias points and how often it moved, which
requests exist and how each was decided, who approved what. A row the replay does not
predict (inserted or edited in SQL, or whose entry was removed) is reported, one line
each. Read-only; one pass over the registry's share of the trail.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from mlplat.registry.schema import alias_history, approval_requests, approvals, model_aliases, model_versions
from mlplat.tracking.schema import audit_log

_DECISIONS = {"promotion.approved": "approved", "promotion.rejected": "rejected",
              "promotion.expired": "expired", "promotion.superseded": "superseded"}
_ACTIONS = ("model.register", "alias.", "promotion.", "approval.add")


def _entries(conn: sa.Connection):
    cond = sa.or_(*(audit_log.c.action.startswith(a) for a in _ACTIONS))
    q = sa.select(audit_log.c.seq, audit_log.c.actor, audit_log.c.action, audit_log.c.object_id,
                  audit_log.c.payload).where(cond).order_by(audit_log.c.seq)
    for r in conn.execute(q):
        try:
            payload = json.loads(r.payload)
        except ValueError:
            payload = {}
        yield r, payload if isinstance(payload, dict) else {}


def replay(conn: sa.Connection) -> list[str]:
    """One line per registry row the trail does not explain (empty: every row is explained)."""
    versions: dict[tuple[str, int], dict[str, Any]] = {}
    alias_at: dict[tuple[str, str], int] = {}
    moves: Counter = Counter()
    requested: set[str] = set()
    decided: dict[str, str] = {}
    approved_by: set[tuple[str, str]] = set()
    for r, p in _entries(conn):
        if r.action == "model.register":
            name, _, version = r.object_id.rpartition(":")
            if version.isdigit():
                versions[(name, int(version))] = p
        elif r.action.startswith("alias.") and "@" in r.object_id:
            name, _, alias = r.object_id.rpartition("@")
            if isinstance(p.get("version"), int):
                alias_at[(name, alias)] = p["version"]
                moves[(name, alias, p["version"], r.action.removeprefix("alias."))] += 1
        elif r.action == "promotion.request":
            requested.add(r.object_id)
        elif r.action in _DECISIONS:
            decided[r.object_id] = _DECISIONS[r.action]
        elif r.action == "approval.add":
            approved_by.add((r.object_id, r.actor))
    problems: list[str] = []
    for row in conn.execute(sa.select(model_versions.c.name, model_versions.c.version, model_versions.c.run_id,
                                      model_versions.c.model_sha256)):
        entry = versions.get((row.name, row.version))
        if entry is None:
            problems.append(f"model version {row.name}:{row.version} has no model.register entry")
        elif entry.get("model_sha256") != row.model_sha256 or entry.get("run_id") != row.run_id:
            problems.append(f"model version {row.name}:{row.version} differs from its model.register entry "
                            "(model digest or run changed)")
    for row in conn.execute(sa.select(model_aliases.c.name, model_aliases.c.alias, model_aliases.c.version)):
        want = alias_at.get((row.name, row.alias))
        if want is None:
            problems.append(f"alias {row.name}@{row.alias} -> {row.version} was never moved in the trail")
        elif want != row.version:
            problems.append(f"alias {row.name}@{row.alias} points at version {row.version} but the trail last "
                            f"moved it to {want}")
    history = Counter((r.name, r.alias, r.version, r.action) for r in conn.execute(
        sa.select(alias_history.c.name, alias_history.c.alias, alias_history.c.version, alias_history.c.action)))
    for (name, alias, version, action), n in sorted((history - moves).items()):
        problems.append(f"alias history of {name}@{alias} has {n} {action} to version {version} the trail "
                        "does not record")
    for row in conn.execute(sa.select(approval_requests.c.id, approval_requests.c.name,
                                      approval_requests.c.version, approval_requests.c.status)):
        if row.id not in requested:
            problems.append(f"promotion request {row.id} ({row.name}:{row.version}) has no promotion.request entry")
            continue
        want = decided.get(row.id, "pending")
        if want != row.status:
            problems.append(f"promotion request {row.id} is {row.status} but the trail says {want}")
    for row in conn.execute(sa.select(approvals.c.request_id, approvals.c.approver)):
        if (row.request_id, row.approver) not in approved_by:
            problems.append(f"approval of request {row.request_id} by {row.approver!r} has no approval.add entry")
    return problems
