"""Lineage of a model version: dataset fingerprint -> run -> config and code -> version -> approvals -> aliases.

Read from two independent records: the store's rows (runs, model_versions, approval
requests, alias history) and the hash-chained audit trail. Each link also says whether
the audit trail agrees with the store (same fingerprint, config hash, model digest), so
a row edited after the fact shows up here even when the chain itself still verifies.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from mlplat.registry import versions
from mlplat.registry.schema import alias_history, approval_requests, approvals
from mlplat.tracking import audit as audit_mod
from mlplat.tracking.runs import get_run
from mlplat.tracking.schema import audit_log
from mlplat.tracking.store import Store

# package versions worth showing in the chain (the full list stays in the JSON)
KEY_PACKAGES = ("mlplat", "scikit-learn", "xgboost", "xgboost-cpu", "pandas", "numpy", "hydra-core")


def _audit(conn: sa.Connection, object_ids: list[str]) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(audit_log).where(audit_log.c.object_id.in_(object_ids)).order_by(audit_log.c.seq)).all()
    out = []
    for r in rows:
        entry = dict(r._mapping)
        entry["payload"] = json.loads(entry["payload"] or "{}")
        out.append(entry)
    return out


def _alias_audit(conn: sa.Connection, name: str, version: int) -> list[dict[str, Any]]:
    """Alias moves of ``name`` that put ``version`` on or took it off an alias (from the audit payloads)."""
    out = []
    for r in conn.execute(sa.select(audit_log).where(audit_log.c.object_type == "alias",
                                             audit_log.c.object_id.startswith(f"{name}@", autoescape=True))
                          .order_by(audit_log.c.seq)):
        payload = json.loads(r.payload or "{}")
        if version in (payload.get("version"), payload.get("previous_version")):
            out.append({**dict(r._mapping), "payload": payload})
    return out


def _check(label: str, store_value: Any, audit_value: Any) -> dict[str, Any]:
    if audit_value is None:
        return {"check": label, "ok": None, "detail": "no audit entry records it"}
    ok = store_value == audit_value
    return {"check": label, "ok": ok,
            "detail": "store and audit trail agree" if ok else f"store has {store_value!r}, audit has {audit_value!r}"}


def lineage(store: Store, ref: str) -> dict[str, Any]:
    """The full chain for ``ref`` (``churn``, ``churn:3`` or ``churn@production``)."""
    with store.read() as conn:
        v = versions.resolve(conn, versions.parse_ref(ref))
        name, number = v["name"], v["version"]
        requests = []
        for req in conn.execute(sa.select(approval_requests).where(
                approval_requests.c.name == name, approval_requests.c.version == number)
                .order_by(approval_requests.c.created_at)):
            item = dict(req._mapping)
            item["evidence"] = json.loads(item["evidence"] or "{}")
            item["approvals"] = [dict(a._mapping) for a in conn.execute(
                sa.select(approvals).where(approvals.c.request_id == req.id).order_by(approvals.c.ts))]
            requests.append(item)
        moves = [dict(r._mapping) for r in conn.execute(sa.select(alias_history).where(
            alias_history.c.name == name,
            sa.or_(alias_history.c.version == number, alias_history.c.previous_version == number))
            .order_by(alias_history.c.id))]
        trail = _audit(conn, [v["run_id"], f"{name}:{number}", *[r["id"] for r in requests]])
        trail += _alias_audit(conn, name, number)
        trail.sort(key=lambda e: e["seq"])
        chain = audit_mod.verify(conn)
    run = get_run(store, v["run_id"])
    done = next((e["payload"] for e in trail if e["action"] == "run.done"), {})
    started = next((e["payload"] for e in trail if e["action"] == "run.start"), {})
    registered = next((e["payload"] for e in trail if e["action"] == "model.register"), {})
    model_art = next((a for a in run["artifacts"] if a["name"] == "model.joblib"), None)
    checks = [
        _check("dataset fingerprint (run vs audit run.done)", run["dataset_fingerprint"],
               done.get("dataset_fingerprint")),
        _check("config hash (run vs audit run.start)", run["config_hash"], started.get("config_hash")),
        _check("dataset fingerprint (version vs audit model.register)", v["dataset_fingerprint"],
               registered.get("dataset_fingerprint")),
        _check("code version (version vs audit model.register)", v["code_version"], registered.get("code_version")),
        _check("model sha256 (version vs audit model.register)", v["model_sha256"], registered.get("model_sha256")),
        _check("model sha256 (version vs run artifact in audit run.done)", v["model_sha256"],
               (done.get("artifacts") or {}).get("model.joblib")),
    ]
    cfg = run.get("config") or {}
    packages = run.get("package_versions") or {}
    return {
        "ref": f"{name}:{number}",
        "dataset": {"name": run["dataset"], "fingerprint": run["dataset_fingerprint"],
                    "validation_passed": run["validation_passed"]},
        "run": {k: run.get(k) for k in ("id", "experiment", "status", "actor", "source", "started_at", "ended_at",
                                        "sweep_id", "model", "features", "task", "primary_metric", "primary_value")},
        "config": {"config_hash": run["config_hash"], "overrides": run.get("overrides"),
                   "code_version": run["code_version"], "code_dirty": run.get("code_dirty"),
                   "packages": {k: packages[k] for k in KEY_PACKAGES if k in packages},
                   "seed": cfg.get("seed"), "model": (cfg.get("model") or {}).get("name"),
                   "resolved": cfg},
        "version": {k: v.get(k) for k in ("name", "version", "created_at", "actor", "source", "description",
                                          "model_sha256", "config_hash", "code_version")},
        "artifact": {"path": model_art["path"], "sha256": model_art["sha256"]} if model_art else None,
        "approvals": requests,
        "alias_changes": moves,
        "audit": [{k: e[k] for k in ("seq", "ts", "actor", "source", "action", "object_type", "object_id")}
                  for e in trail],
        "audit_chain": {"ok": chain.ok, "entries": chain.entries, "reason": chain.reason},
        "checks": checks,
    }


def chain_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The chain as ordered (stage, subject, when, who, detail) rows, oldest link first."""
    run, cfg, ver = data["run"], data["config"], data["version"]
    rows = [
        {"stage": "dataset", "subject": data["dataset"]["name"], "when": None, "who": None,
         "detail": f"fingerprint {data['dataset']['fingerprint']}; validation "
                   f"{'passed' if data['dataset']['validation_passed'] else 'NOT passed'}"},
        {"stage": "run", "subject": run["id"], "when": run["started_at"], "who": f"{run['actor']} ({run['source']})",
         "detail": f"{run['experiment']} / {run['model']} {run['status']}; {run['primary_metric']}="
                   f"{run['primary_value']}" + (f"; sweep {run['sweep_id']}" if run["sweep_id"] else "")},
        {"stage": "config", "subject": cfg["config_hash"][:12] if cfg["config_hash"] else "–", "when": None,
         "who": None, "detail": f"overrides {' '.join(cfg['overrides'] or []) or '(none)'}; seed {cfg['seed']}"},
        {"stage": "code", "subject": cfg["code_version"] or "unknown", "when": None, "who": None,
         "detail": ("uncommitted changes; " if cfg["code_dirty"] else "")
                   + ", ".join(f"{k} {v}" for k, v in cfg["packages"].items())},
        {"stage": "version", "subject": data["ref"], "when": ver["created_at"], "who": f"{ver['actor']} ({ver['source']})",
         "detail": f"model sha256 {ver['model_sha256'][:16]}…"},
    ]
    for req in data["approvals"]:
        rows.append({"stage": "request", "subject": req["id"], "when": req["created_at"],
                     "who": f"{req['requester']} ({req['source']})",
                     "detail": f"to {req['target']}: {req['status']}" + (f" ({req['reason']})" if req["reason"] else "")})
        rows += [{"stage": "approval", "subject": req["id"], "when": a["ts"], "who": f"{a['approver']} ({a['source']})",
                  "detail": a["comment"] or ""} for a in req["approvals"]]
    for m in data["alias_changes"]:
        rows.append({"stage": "alias", "subject": f"{ver['name']}@{m['alias']}", "when": m["ts"],
                     "who": f"{m['actor']} ({m['source']})",
                     "detail": f"{m['action']} {m['previous_version'] or '–'} -> {m['version']}"})
    return rows
