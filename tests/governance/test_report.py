"""Each section of the governance report against a store of real runs, registrations and approvals."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from gov_kit import DAY, GOVERNANCE, add_drift_checks, fresh_store, policy

from mlplat import ops

PROD = policy()


@pytest.fixture
def world(tmp_path, trained):
    """churn:1 in production (bob asked, alice approved), a pending and an expired request, and
    churn_auto in production through a 0-approval policy; actors differ as in real use."""
    store, url = fresh_store(tmp_path, trained)
    db = url.removeprefix("sqlite:///")
    kw = {"store": store, "source": "cli"}
    ops.register(trained["strong"], "churn", actor="bob", **kw)
    req = ops.request_promotion("churn", 1, "production", actor="bob", policy=PROD, **kw)
    ops.approve(req["id"], actor="alice", comment="holdout looks right", policy=PROD, **kw)
    ops.register(trained["strong"], "churn_b", actor="dave", **kw)
    pending = ops.request_promotion("churn_b", 1, "production", actor="dave", policy=PROD, **kw)
    ops.register(trained["weak"], "churn_x", actor="dave", **kw)
    short = policy(expiry_hours=0.0003, gates={"run_completed": True, "validation_passed": True, "thresholds": {}})
    expired = ops.request_promotion("churn_x", 1, "production", actor="dave", policy=short, **kw)
    ops.register(trained["strong"], "churn_auto", actor="erin", **kw)
    ops.request_promotion("churn_auto", 1, "production", actor="erin", policy=policy(approvals=0), **kw)
    time.sleep(1.2)  # past the short request's expiry
    return {"store": store, "db": db, "pending": pending["id"], "expired": expired["id"], "approve_req": req["id"]}


def _report(world, **kw):
    return ops.governance_report(since=time.time() - DAY, fmt=kw.pop("fmt", "json"), actor="carol", source="cli",
                                 store=world["store"], governance=GOVERNANCE, **kw)


def _sql(db: str, sql: str, *params) -> None:
    con = sqlite3.connect(db)
    con.execute(sql, params)
    con.commit()
    con.close()


def test_report_sections_from_real_runs_and_decisions(world, trained, tmp_path):
    _sql(world["db"], "UPDATE model_versions SET created_at = ? WHERE name = 'churn'", time.time() - 100 * DAY)
    add_drift_checks(world["db"], [("churn", 1, "ok", 20), ("churn", 1, "drift", 10), ("churn", 1, "drift", 1),
                                   ("churn_auto", 1, "drift", 2)])
    result = _report(world, fmt="md", output=str(tmp_path / "out" / "report.md"))
    data = result["report"]
    assert result["status"] == "warn" and result["path"] == str(tmp_path / "out" / "report.md")

    prod = {p["name"]: p for p in data["production"]}
    assert set(prod) == {"churn", "churn_auto"}
    churn = prod["churn"]
    assert churn["version"] == 1 and churn["age_days"] == pytest.approx(100, abs=0.1)
    assert churn["approval"]["requester"] == "bob"
    assert [a["approver"] for a in churn["approval"]["approvers"]] == ["alice"]
    assert churn["drift"]["status"] == "drift"
    assert time.time() - churn["drift"]["drifting_since"] == pytest.approx(10 * DAY, abs=60)
    run = ops.show_run(trained["strong"], store=world["store"])
    assert churn["performance"]["reference_cv"] == pytest.approx(run["metrics"]["cv"]["roc_auc"]["value"])
    assert churn["performance"]["reference_holdout"] == pytest.approx(run["metrics"]["holdout"]["roc_auc"])
    assert prod["churn_auto"]["approval"] is None and prod["churn_auto"]["moved_by"] == "erin"

    runs = data["runs"]
    assert runs["by_status"] == {"done": 2, "failed": 1}
    assert [f["id"] for f in runs["failures"]] == [trained["failed"]] and runs["failures"][0]["error"]
    assert [(s["id"], s["n_done"], s["status"]) for s in data["sweeps"]] == [(trained["sweep_id"], 2, "done")]

    assert [r["id"] for r in data["approvals"]["pending"]] == [world["pending"]]
    assert [r["id"] for r in data["approvals"]["expired"]] == [world["expired"]]
    assert data["audit"]["ok"] and data["audit"]["entries"] > 10

    violations = {(v["rule"], v["subject"]) for v in data["violations"]}
    assert violations == {("model_too_old", "churn:1"), ("drift_unresolved", "churn:1"),
                          ("unapproved_production", "churn_auto:1")}  # churn_auto drifts 2 days < 7: fine
    assert data["changes"]["previous_report"] is None

    md = (tmp_path / "out" / "report.md").read_text()
    for needle in ("# Governance report — WARN", "| churn | 1 |", "alice", "NO RECORDED APPROVAL", world["pending"],
                   world["expired"], trained["failed"], "drift_unresolved", "First report on this store"):
        assert needle in md, needle


def test_changes_since_the_last_report_and_a_broken_audit_chain(world, tmp_path):
    _sql(world["db"], "UPDATE model_versions SET created_at = ? WHERE name = 'churn'", time.time() - 100 * DAY)
    first = _report(world)
    assert "model_too_old churn:1" in first["report"]["changes"]["new_violations"]

    ops.approve(world["pending"], actor="alice", policy=PROD, store=world["store"], source="slack")
    _sql(world["db"], "UPDATE model_versions SET created_at = ? WHERE name = 'churn'", time.time())
    second = _report(world, fmt="html", output=str(tmp_path / "r.html"))
    changes = second["report"]["changes"]
    assert changes["previous_report"]["id"] == first["id"]
    assert changes["production"] == [{"name": "churn_b", "from": None, "to": 1}]
    assert changes["resolved_violations"] == ["model_too_old churn:1"]
    assert changes["new_violations"] == []  # churn_b reached production with alice's approval
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "<script" not in html and "http" not in html
    assert "Compared with report #" in html

    _sql(world["db"], "UPDATE audit_log SET payload = '{}' WHERE seq = 3")
    third = _report(world)
    assert third["status"] == "error"
    assert ("audit_chain_broken", "audit entry 3") in {(v["rule"], v["subject"]) for v in third["violations"]}
    stored = sqlite3.connect(world["db"]).execute("SELECT status FROM governance_reports ORDER BY id").fetchall()
    assert [s for (s,) in stored] == ["warn", "warn", "error"]


def test_json_format_round_trips_and_an_empty_period_is_refused(world):
    out = _report(world)
    assert json.loads(out["content"])["summary"] == out["summary"]
    with pytest.raises(Exception, match="the report period is empty"):
        ops.governance_report(since=time.time() + 60, actor="carol", source="cli", store=world["store"],
                              governance=GOVERNANCE)
