"""Promotion requests and their approval: the state machine behind ``promote``/``approve``/``reject``.

States: pending -> approved | rejected | expired | superseded. Every transition is one
``UPDATE ... WHERE id = :id AND status = 'pending'`` whose rowcount must be 1, and
``approve``/``reject`` start with that same guarded UPDATE (a no-op write) so the request
row is locked for the rest of the transaction: on PostgreSQL a second approver waits and
then sees the first one's outcome, on SQLite BEGIN IMMEDIATE already serialises writers.
A double approval, an expired or superseded request and two racing approvers therefore
each have exactly one outcome. Refusals that change state (expiry, supersession) or that
governance wants on record (a denied approval) commit their audit entry before raising.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa

from mlplat.errors import MlplatError, NotFound, PermissionDenied, RegistryError
from mlplat.registry import aliases, versions
from mlplat.registry import policy as pol
from mlplat.registry.schema import approval_requests, approvals
from mlplat.tracking import audit
from mlplat.tracking.schema import runs
from mlplat.tracking.store import Store, now

OPEN = "pending"


def _decode(row: sa.Row | dict) -> dict[str, Any]:
    out = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    out["evidence"] = json.loads(out["evidence"]) if out.get("evidence") else {}
    return out


def _run_row(conn: sa.Connection, run_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(runs.c.id, runs.c.status, runs.c.validation_passed).where(runs.c.id == run_id)).first()
    return dict(row._mapping) if row else None


def _transition(conn: sa.Connection, request_id: str, status: str, *, actor: str, reason: str | None = None) -> bool:
    """Compare-and-set pending -> ``status``; False when the request was no longer pending."""
    return conn.execute(approval_requests.update().where(
        approval_requests.c.id == request_id, approval_requests.c.status == OPEN,
    ).values(status=status, decided_at=now(), decided_by=actor, reason=reason)).rowcount == 1


def _lock_pending(conn: sa.Connection, request_id: str) -> dict[str, Any]:
    """The pending request, row-locked; a clear error naming its state when it is not pending."""
    touched = conn.execute(approval_requests.update().where(
        approval_requests.c.id == request_id, approval_requests.c.status == OPEN,
    ).values(status=OPEN)).rowcount
    row = conn.execute(sa.select(approval_requests).where(approval_requests.c.id == request_id)).first()
    if row is None:
        raise NotFound(f"approval request {request_id!r} not found; see `mlplat approvals list`")
    if not touched:
        by = f" by {row.decided_by}" if row.decided_by else ""
        why = f" ({row.reason})" if row.reason else ""
        raise RegistryError(f"request {request_id} is already {row.status}{by}{why}; nothing to do "
                            "(see `mlplat approvals list`)")
    return _decode(row)


def _supersede_others(conn: sa.Connection, req: dict[str, Any], *, actor: str, source: str, reason: str) -> None:
    others = conn.execute(sa.select(approval_requests.c.id).where(
        approval_requests.c.name == req["name"], approval_requests.c.target == req["target"],
        approval_requests.c.status == OPEN, approval_requests.c.id != req["id"])).scalars().all()
    for other in others:
        if _transition(conn, other, "superseded", actor=actor, reason=reason):
            audit.append(conn, actor=actor, source=source, action="promotion.superseded", object_type="request",
                         object_id=other, payload={"by": req["id"], "reason": reason})


def request(store: Store, policy: dict[str, Any], ref: versions.Ref, target: str, *, actor: str,
            source: str) -> dict[str, Any]:
    """Evaluate ``target``'s gates for the version and open a request (applied at once if it needs 0 approvals)."""
    versions.check_alias(target)
    tp = pol.target_policy(policy, target)
    pol.require_role(policy, actor, tp.get("requester_roles") or [], f"request a promotion to {target}")
    refused: MlplatError | None = None
    with store.write() as conn:
        cand = versions.resolve(conn, ref)
        base = aliases.current(conn, cand["name"], target)
        if base == cand["version"]:
            raise RegistryError(f"{cand['name']}@{target} already points at version {cand['version']}; nothing to do")
        champion = versions.resolve(conn, versions.Ref(cand["name"], version=base)) if base is not None else None
        gates = pol.evaluate(tp.get("gates") or {}, cand, _run_row(conn, cand["run_id"]), champion)
        evidence = {"gates": gates, "candidate": {"version": cand["version"], "run_id": cand["run_id"],
                                                  "metrics": cand["metrics"]},
                    "champion": {"version": champion["version"], "metrics": champion["metrics"]} if champion else None}
        failed = [g for g in gates if g["status"] == "fail"]
        subject = f"{cand['name']}:{cand['version']}"
        if failed:
            audit.append(conn, actor=actor, source=source, action="promotion.refused", object_type="model",
                         object_id=subject, payload={"target": target, "gates": gates})
            refused = RegistryError(f"{subject} cannot be promoted to {target}: gate "
                                    + "; gate ".join(f"{g['gate']} failed ({g['detail']})" for g in failed))
        else:
            req = {"id": uuid.uuid4().hex[:12], "name": cand["name"], "version": cand["version"], "target": target,
                   "status": OPEN, "requester": actor, "source": source, "created_at": now(),
                   "expires_at": now() + float(tp.get("expiry_hours") or 72) * 3600,
                   "approvals_needed": int(tp.get("approvals", 1)), "base_version": base,
                   "evidence": json.dumps(evidence, sort_keys=True, default=str)}
            _supersede_others(conn, req, actor=actor, source=source, reason=f"newer request {req['id']}")
            conn.execute(approval_requests.insert().values(**req))
            audit.append(conn, actor=actor, source=source, action="promotion.request", object_type="request",
                         object_id=req["id"], payload={"model": subject, "target": target, "gates": gates,
                                                       "base_version": base})
            if req["approvals_needed"] <= 0:
                _apply(conn, req, actor=actor, source=source)
            return get(conn, req["id"])
    assert refused is not None
    raise refused


def _apply(conn: sa.Connection, req: dict[str, Any], *, actor: str, source: str) -> None:
    if not _transition(conn, req["id"], "approved", actor=actor):
        raise RegistryError(f"request {req['id']} was decided by someone else meanwhile; see `mlplat approvals list`")
    aliases.move(conn, req["name"], req["target"], req["version"], expected=req["base_version"], action="promote",
                 actor=actor, source=source, request_id=req["id"])
    audit.append(conn, actor=actor, source=source, action="promotion.approved", object_type="request",
                 object_id=req["id"], payload={"model": f"{req['name']}:{req['version']}", "target": req["target"]})
    _supersede_others(conn, req, actor=actor, source=source, reason=f"{req['target']} changed by {req['id']}")


def _refuse_stale(conn: sa.Connection, req: dict[str, Any], *, actor: str, source: str) -> MlplatError | None:
    """Expire or supersede the request when time or the alias moved on; the error to raise after commit."""
    if req["expires_at"] is not None and req["expires_at"] < now():
        _transition(conn, req["id"], "expired", actor=actor, reason="expired before approval")
        audit.append(conn, actor=actor, source=source, action="promotion.expired", object_type="request",
                     object_id=req["id"], payload={"expires_at": req["expires_at"]})
        return RegistryError(f"request {req['id']} expired before approval; request the promotion again with "
                             f"`mlplat models promote {req['name']} {req['version']} --to {req['target']}`")
    cur = aliases.current(conn, req["name"], req["target"])
    if cur != req["base_version"]:
        reason = f"{req['target']} moved from {req['base_version']} to {cur} since the request"
        _transition(conn, req["id"], "superseded", actor=actor, reason=reason)
        audit.append(conn, actor=actor, source=source, action="promotion.superseded", object_type="request",
                     object_id=req["id"], payload={"reason": reason})
        return RegistryError(f"request {req['id']} is superseded: {reason}, so its evidence is stale; request it "
                             f"again with `mlplat models promote {req['name']} {req['version']} --to {req['target']}`")
    return None


def _check_approver(conn: sa.Connection, policy: dict[str, Any], req: dict[str, Any], actor: str,
                    verb: str) -> MlplatError | None:
    tp = pol.target_policy(policy, req["target"])
    if actor == req["requester"]:
        roles = tp.get("approver_roles") or []
        key = f"roles.{roles[0]}" if roles else "roles"
        return PermissionDenied(f"{actor!r} requested {req['id']} and may not {verb} it (four-eyes rule); "
                                f"ask another approver (list a second person in {key} in {pol.policy_file()})")
    try:
        pol.require_role(policy, actor, tp.get("approver_roles") or [], f"{verb} promotions to {req['target']}")
    except PermissionDenied as exc:
        return exc
    return None


def approve(store: Store, policy: dict[str, Any], request_id: str, *, actor: str, source: str,
            comment: str | None = None) -> dict[str, Any]:
    """Record ``actor``'s approval; the last one needed moves the alias in the same transaction."""
    error: MlplatError | None = None
    with store.write() as conn:
        req = _lock_pending(conn, request_id)
        error = _refuse_stale(conn, req, actor=actor, source=source) or _check_approver(conn, policy, req, actor,
                                                                                         "approve")
        if isinstance(error, PermissionDenied):
            audit.append(conn, actor=actor, source=source, action="approval.denied", object_type="request",
                         object_id=request_id, payload={"reason": str(error)})
        if error is None:
            if conn.execute(sa.select(approvals.c.approver).where(approvals.c.request_id == request_id,
                                                                  approvals.c.approver == actor)).first():
                raise RegistryError(f"{actor!r} has already approved request {request_id}; it needs "
                                    f"{req['approvals_needed']} distinct approvers")
            conn.execute(approvals.insert().values(request_id=request_id, approver=actor, source=source, ts=now(),
                                                   comment=comment))
            audit.append(conn, actor=actor, source=source, action="approval.add", object_type="request",
                         object_id=request_id, payload={"comment": comment})
            count = conn.execute(sa.select(sa.func.count()).select_from(approvals)
                                 .where(approvals.c.request_id == request_id)).scalar_one()
            if count >= req["approvals_needed"]:
                _apply(conn, req, actor=actor, source=source)
            return get(conn, request_id)
    raise error


def reject(store: Store, policy: dict[str, Any], request_id: str, *, actor: str, source: str,
           reason: str) -> dict[str, Any]:
    """Close the request as rejected; approvers and the requester (withdrawing it) may reject."""
    if not (reason or "").strip():
        raise RegistryError("a rejection needs a reason: pass --reason '...'")
    error: MlplatError | None = None
    with store.write() as conn:
        req = _lock_pending(conn, request_id)
        if actor != req["requester"]:
            error = _check_approver(conn, policy, req, actor, "reject")
        if error is not None:
            audit.append(conn, actor=actor, source=source, action="approval.denied", object_type="request",
                         object_id=request_id, payload={"reason": str(error)})
        else:
            if not _transition(conn, request_id, "rejected", actor=actor, reason=reason):
                raise RegistryError(f"request {request_id} was decided by someone else meanwhile")
            audit.append(conn, actor=actor, source=source, action="promotion.rejected", object_type="request",
                         object_id=request_id, payload={"reason": reason})
            return get(conn, request_id)
    raise error


def expire_stale(store: Store, *, actor: str, source: str) -> int:
    """Mark every pending request past its expiry as expired (audited); returns how many."""
    with store.write() as conn:
        ids = conn.execute(sa.select(approval_requests.c.id).where(
            approval_requests.c.status == OPEN, approval_requests.c.expires_at < now())).scalars().all()
        for rid in ids:
            if _transition(conn, rid, "expired", actor=actor, reason="expired before approval"):
                audit.append(conn, actor=actor, source=source, action="promotion.expired", object_type="request",
                             object_id=rid, payload={})
    return len(ids)


def get(conn: sa.Connection, request_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(approval_requests).where(approval_requests.c.id == request_id)).first()
    if row is None:
        raise NotFound(f"approval request {request_id!r} not found; see `mlplat approvals list`")
    out = _decode(row)
    out["approvals"] = [dict(a._mapping) for a in conn.execute(
        sa.select(approvals).where(approvals.c.request_id == request_id).order_by(approvals.c.ts))]
    return out


def list_requests(store: Store, *, status: str | None = None, name: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
    q = sa.select(approval_requests).order_by(approval_requests.c.created_at.desc()).limit(limit)
    if status:
        q = q.where(approval_requests.c.status == status)
    if name:
        q = q.where(approval_requests.c.name == name)
    with store.read() as conn:
        rows = [_decode(r) for r in conn.execute(q)]
        counts = dict(conn.execute(sa.select(approvals.c.request_id, sa.func.count()).where(
            approvals.c.request_id.in_([r["id"] for r in rows])).group_by(approvals.c.request_id)).all()) if rows else {}
    for r in rows:
        r["approvals_count"] = counts.get(r["id"], 0)
    return rows
