"""The governance report: what is in production and on whose approval, what ran, what waits, what breaks policy.

``collect`` reads the store (registry, runs, sweeps, approvals, audit chain, and the
monitoring checks when that table exists) into plain data; ``to_markdown``/``to_html``/
``to_json`` only format it. Every report's ``summarise`` output is stored in
``governance_reports`` so the next one can say what changed since. Rules checked:

- ``unapproved_production``: the production version has no approved production request
  with at least one recorded approval (promoted by a policy with 0 approvals, or the
  alias row was written outside the registry);
- ``model_too_old``: the production version was registered longer ago than
  ``governance.max_model_age``;
- ``drift_unresolved``: the version's drift checks have said "drift" for longer than
  ``governance.drift_unresolved_days`` with no "ok" check since;
- ``audit_chain_broken``: the audit trail does not verify.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from mlplat.durations import seconds
from mlplat.errors import ConfigError
from mlplat.governance.render import (
    iso,
)
from mlplat.governance.report_format import (
    headline,
)
from mlplat.governance.schema import governance_reports
from mlplat.registry import replay
from mlplat.registry.schema import alias_history, approval_requests, approvals, model_aliases, model_versions
from mlplat.tracking import audit as audit_mod
from mlplat.tracking.schema import runs, sweeps

# tables monitoring may store its checks in (it is written concurrently; read whichever exists)
MONITOR_TABLES = ("drift_checks", "monitor_checks", "monitoring_checks")
DRIFT_KINDS = {"drift", "data_drift", "dataset_drift", "prediction_drift"}
DAY = 86400.0


def parse_age(text: Any, key: str) -> float:
    """'90d' / '12w' / '36h' -> seconds; one clear line for anything else."""
    value = seconds(text, units="hdw")
    if value is None:
        raise ConfigError(f"governance.{key}={text!r} is not a duration; use e.g. 90d, 12w or 36h "
                          "(conf/governance/default.yaml)")
    return value


def settings(cfg: dict | None) -> dict[str, float]:
    cfg = cfg or {}
    try:
        unresolved = float(cfg.get("drift_unresolved_days", 7))
    except (TypeError, ValueError):
        raise ConfigError(f"governance.drift_unresolved_days={cfg.get('drift_unresolved_days')!r} must be a "
                          "number of days (conf/governance/default.yaml)") from None
    return {"max_model_age_s": parse_age(cfg.get("max_model_age", "90d"), "max_model_age"),
            "drift_unresolved_s": unresolved * DAY}


# -- monitoring checks (schema owned by monitoring; read defensively) ----------------------
def _pick(table: sa.Table, *names: str) -> sa.Column | None:
    return next((table.c[n] for n in names if n in table.c), None)


def monitor_table(conn: sa.Connection) -> sa.Table | None:
    inspector = sa.inspect(conn)
    for name in MONITOR_TABLES:
        if inspector.has_table(name):
            return sa.Table(name, sa.MetaData(), autoload_with=conn)
    return None


def drift_checks(conn: sa.Connection, name: str, version: int, *, kinds: set[str] = DRIFT_KINDS,
                 limit: int = 500) -> list[dict[str, Any]] | None:
    """(time, status) of the version's checks of ``kinds``, newest first; None when monitoring stores none.

    A table without a kind column is taken to hold drift checks only.
    """
    table = monitor_table(conn)
    if table is None:
        return None
    model_c = _pick(table, "model", "name", "model_name")
    version_c = _pick(table, "version", "model_version")
    status_c = _pick(table, "status", "overall_status")
    time_c = _pick(table, "created_at", "checked_at", "ts", "started_at", "time")
    if model_c is None or status_c is None or time_c is None:
        return None
    q = sa.select(time_c.label("ts"), status_c.label("status")).where(model_c == name)
    if version_c is not None:
        q = q.where(version_c == version)
    kind_c = _pick(table, "kind", "check_type", "type")
    if kind_c is not None:
        q = q.where(kind_c.in_(sorted(kinds)))
    elif kinds is not DRIFT_KINDS:
        return []
    return [dict(r._mapping) for r in conn.execute(q.order_by(time_c.desc()).limit(limit))]


def drift_state(checks: list[dict[str, Any]] | None, now: float) -> dict[str, Any]:
    """Last status and, while drifting, since when (the oldest drift check after the last non-drift one)."""
    if checks is None:
        return {"status": None, "checked_at": None, "drifting_since": None,
                "text": "no drift check recorded (monitoring has no checks table)"}
    if not checks:
        return {"status": None, "checked_at": None, "drifting_since": None, "text": "no drift check recorded"}
    last = checks[0]
    since = None
    if last["status"] == "drift":
        for c in checks:
            if c["status"] != "drift":
                break
            since = c["ts"]
    text = f"{last['status']} at {iso(last['ts'])}"
    if since is not None:
        text += f" (drifting for {(now - float(since)) / DAY:.1f} days)"
    return {"status": last["status"], "checked_at": last["ts"], "drifting_since": since, "text": text}


# -- collection ----------------------------------------------------------------------------
def _approval_of(conn: sa.Connection, name: str, version: int) -> dict[str, Any] | None:
    """The newest approved production request for the version that has recorded approvals."""
    reqs = conn.execute(sa.select(approval_requests).where(
        approval_requests.c.name == name, approval_requests.c.version == version,
        approval_requests.c.target == "production", approval_requests.c.status == "approved",
    ).order_by(approval_requests.c.decided_at.desc())).all()
    for req in reqs:
        rows = conn.execute(sa.select(approvals).where(approvals.c.request_id == req.id)
                            .order_by(approvals.c.ts)).all()
        if rows:
            return {"request_id": req.id, "requester": req.requester, "decided_at": req.decided_at,
                    "approvers": [{"approver": a.approver, "ts": a.ts, "source": a.source, "comment": a.comment}
                                  for a in rows]}
    return None


def _production(conn: sa.Connection, now: float, rules: dict[str, float]) -> list[dict[str, Any]]:
    out = []
    rows = conn.execute(sa.select(model_aliases).where(model_aliases.c.alias == "production")
                        .order_by(model_aliases.c.name)).all()
    for a in rows:
        v = conn.execute(sa.select(model_versions).where(model_versions.c.name == a.name,
                                                         model_versions.c.version == a.version)).first()
        if v is None:
            continue
        moved = conn.execute(sa.select(alias_history).where(
            alias_history.c.name == a.name, alias_history.c.alias == "production",
            alias_history.c.version == a.version).order_by(alias_history.c.id.desc()).limit(1)).first()
        metrics = json.loads(v.metrics or "{}")
        metric = v.primary_metric
        ref_cv = (metrics.get("cv") or {}).get(metric)
        ref_holdout = (metrics.get("holdout") or {}).get(metric)
        drift = drift_state(drift_checks(conn, a.name, a.version), now)
        perf = drift_checks(conn, a.name, a.version, kinds={"performance"}, limit=1)
        out.append({
            "name": a.name, "version": a.version, "run_id": v.run_id, "registered_at": v.created_at,
            "age_days": round((now - v.created_at) / DAY, 2),
            "in_production_since": moved.ts if moved else a.updated_at,
            "moved_by": moved.actor if moved else a.actor, "move_action": moved.action if moved else None,
            "approval": _approval_of(conn, a.name, a.version), "drift": drift,
            "performance": {"metric": metric, "reference_cv": ref_cv, "reference_holdout": ref_holdout,
                            "current": perf[0]["status"] if perf else None,
                            "note": f"{perf[0]['status']} at {iso(perf[0]['ts'])}" if perf
                            else "no performance check recorded"},
        })
    return out


def _runs_and_sweeps(conn: sa.Connection, since: float, until: float) -> tuple[dict[str, Any], list[dict]]:
    in_period = sa.and_(runs.c.started_at >= since, runs.c.started_at <= until)
    by_status = dict(conn.execute(sa.select(runs.c.status, sa.func.count()).where(in_period)
                                  .group_by(runs.c.status)).all())
    failures = [dict(r._mapping) for r in conn.execute(
        sa.select(runs.c.id, runs.c.experiment, runs.c.model, runs.c.status, runs.c.started_at, runs.c.actor,
                  runs.c.error).where(in_period, runs.c.status.in_(["failed", "crashed"]))
        .order_by(runs.c.started_at.desc()).limit(50))]
    per_day = Counter()
    for started, status in conn.execute(sa.select(runs.c.started_at, runs.c.status).where(in_period)):
        per_day[(dt.datetime.fromtimestamp(started, dt.UTC).date().isoformat(), status)] += 1
    sweep_rows = [dict(r._mapping) for r in conn.execute(
        sa.select(sweeps.c.id, sweeps.c.experiment, sweeps.c.status, sweeps.c.started_at, sweeps.c.n_done,
                  sweeps.c.n_failed, sweeps.c.n_crashed, sweeps.c.best_run_id, sweeps.c.actor)
        .where(sweeps.c.started_at >= since, sweeps.c.started_at <= until).order_by(sweeps.c.started_at.desc()))]
    summary = {"total": sum(by_status.values()), "by_status": by_status, "failures": failures,
               "per_day": [{"day": d, "status": s, "count": n} for (d, s), n in sorted(per_day.items())]}
    return summary, sweep_rows


def _approvals(conn: sa.Connection, since: float, now: float) -> dict[str, list[dict]]:
    cols = [approval_requests.c[c] for c in ("id", "name", "version", "target", "status", "requester",
                                             "created_at", "expires_at", "decided_at", "approvals_needed")]
    pending = [dict(r._mapping) for r in conn.execute(sa.select(*cols).where(
        approval_requests.c.status == "pending", sa.or_(approval_requests.c.expires_at.is_(None),
                                                        approval_requests.c.expires_at >= now))
        .order_by(approval_requests.c.created_at))]
    # a pending request past its expiry is expired in fact, even if nobody has listed it since
    expired = [dict(r._mapping) for r in conn.execute(sa.select(*cols).where(sa.or_(
        sa.and_(approval_requests.c.status == "expired", approval_requests.c.expires_at >= since),
        sa.and_(approval_requests.c.status == "pending", approval_requests.c.expires_at < now)))
        .order_by(approval_requests.c.expires_at))]
    return {"pending": pending, "expired": expired}


def _violations(production: list[dict], audit: dict, rules: dict[str, float], now: float) -> list[dict[str, str]]:
    out = []
    for p in production:
        subject = f"{p['name']}:{p['version']}"
        if p["approval"] is None:
            how = f"moved there by {p['moved_by']} ({p['move_action'] or 'no alias history'})"
            out.append({"rule": "unapproved_production", "subject": subject,
                        "detail": f"production version has no recorded approval; {how}"})
        if now - p["registered_at"] > rules["max_model_age_s"]:
            out.append({"rule": "model_too_old", "subject": subject,
                        "detail": f"registered {p['age_days']:.0f} days ago; the maximum age is "
                                  f"{rules['max_model_age_s'] / DAY:.0f} days (governance.max_model_age)"})
        since = p["drift"]["drifting_since"]
        if since is not None and now - float(since) > rules["drift_unresolved_s"]:
            out.append({"rule": "drift_unresolved", "subject": subject,
                        "detail": f"drifting since {iso(since)} ({(now - float(since)) / DAY:.1f} days; the limit is "
                                  f"{rules['drift_unresolved_s'] / DAY:g} days, governance.drift_unresolved_days)"})
    if not audit["ok"]:
        subject = (f"audit entry {audit['first_bad_seq']}" if audit["first_bad_seq"] is not None
                   else "registry tables")
        out.append({"rule": "audit_chain_broken", "subject": subject,
                    "detail": audit["reason"]})
    return out


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """What the next report compares against (stored in governance_reports.summary)."""
    return {"production": {p["name"]: p["version"] for p in report["production"]},
            "violations": sorted(f"{v['rule']} {v['subject']}" for v in report["violations"]),
            "runs": report["runs"]["total"], "failed_runs": len(report["runs"]["failures"]),
            "pending_approvals": [r["id"] for r in report["approvals"]["pending"]],
            "audit_entries": report["audit"]["entries"]}


def _changes(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    if previous is None:
        return {"previous_report": None, "production": [], "new_violations": current["violations"],
                "resolved_violations": [], "new_pending_approvals": current["pending_approvals"],
                "audit_entries_added": current["audit_entries"]}
    before = previous["summary"]
    prod_before, prod_now = before.get("production", {}), current["production"]
    moved = [{"name": n, "from": prod_before.get(n), "to": prod_now.get(n)}
             for n in sorted(set(prod_before) | set(prod_now)) if prod_before.get(n) != prod_now.get(n)]
    old_v, new_v = set(before.get("violations", [])), set(current["violations"])
    return {"previous_report": {"id": previous["id"], "created_at": previous["created_at"]}, "production": moved,
            "new_violations": sorted(new_v - old_v), "resolved_violations": sorted(old_v - new_v),
            "new_pending_approvals": sorted(set(current["pending_approvals"])
                                            - set(before.get("pending_approvals", []))),
            "audit_entries_added": current["audit_entries"] - int(before.get("audit_entries", 0))}


def previous_report(conn: sa.Connection) -> dict[str, Any] | None:
    row = conn.execute(sa.select(governance_reports).order_by(governance_reports.c.created_at.desc(), governance_reports.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    return {"id": row.id, "created_at": row.created_at, "summary": json.loads(row.summary)}


def collect(conn: sa.Connection, *, since: float, until: float, governance: dict | None) -> dict[str, Any]:
    """Every section of the report as plain data (``until`` is "now" for ages and expiries)."""
    rules = settings(governance)
    production = _production(conn, until, rules)
    run_summary, sweep_rows = _runs_and_sweeps(conn, since, until)
    v = audit_mod.verify(conn)
    unexplained = replay.replay(conn) if v.ok else []
    latest = audit_mod.checkpoints(conn, limit=1)
    cp = ({"id": latest[0]["id"], "seq": latest[0]["seq"], "hash": latest[0]["hash"], "ts": latest[0]["ts"]}
          if latest else None)
    audit = {"ok": v.ok and not unexplained, "entries": v.entries, "first_bad_seq": v.first_bad_seq,
             "reason": v.reason or (f"registry rows the trail does not explain: {'; '.join(unexplained[:5])}"
                                    if unexplained else ""),
             "signed": v.signed, "unsigned": v.unsigned, "checkpoints": v.checkpoints, "head_seq": v.head_seq,
             "head_hash": v.head_hash, "last_checkpoint": cp, "unexplained": unexplained}
    report: dict[str, Any] = {
        "period": {"since": since, "until": until},
        "rules": {"max_model_age_days": rules["max_model_age_s"] / DAY,
                  "drift_unresolved_days": rules["drift_unresolved_s"] / DAY},
        "production": production, "runs": run_summary, "sweeps": sweep_rows,
        "approvals": _approvals(conn, since, until), "audit": audit,
    }
    report["violations"] = _violations(production, audit, rules, until)
    report["status"] = "error" if not audit["ok"] else "warn" if report["violations"] else "ok"
    report["changes"] = _changes(previous_report(conn), summarise(report))
    report["summary"] = headline(report)
    return report


