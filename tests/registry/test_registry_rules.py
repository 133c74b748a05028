"""Registry rules through mlplat.ops (what the CLI and the Slack bot both call): gates, roles,
expiry, supersession and compare-and-set under races, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from kit import policy

from mlplat import ops
from mlplat.errors import NotFound, PermissionDenied, RegistryError

S = "test"


def _registered(store, trained):
    ops.register(trained["weak"], "churn", actor="bob", source=S, store=store)
    ops.register(trained["strong"], "churn", actor="bob", source=S, store=store)


def test_gates_thresholds_validation_and_not_comparable(store, trained):
    _registered(store, trained)
    with pytest.raises(RegistryError, match=r"gate threshold:roc_auc failed \(holdout roc_auc=0\.8\d+ >= 0\.99"):
        ops.request_promotion("churn", 2, "production", actor="bob", source=S, store=store,
                              policy=policy(gates={**policy()["targets"]["production"]["gates"],
                                                   "thresholds": {"roc_auc": 0.99}}))
    refused = ops.audit_log(action="promotion.refused", store=store)
    assert refused and refused[0]["object_id"] == "churn:2"

    ops.request_promotion("churn", 2, "staging", actor="bob", source=S, store=store, policy=policy())
    with store.write() as conn:  # the weaker run's data validation is recorded as failed
        conn.execute(sa.text("UPDATE runs SET validation_passed = false WHERE id = :r"), {"r": trained["weak"]})
    with pytest.raises(RegistryError, match="gate validation_passed failed"):
        ops.request_promotion("churn", 1, "staging", actor="bob", source=S, store=store, policy=policy())
    with store.write() as conn:
        conn.execute(sa.text("UPDATE runs SET validation_passed = true, status = 'failed' WHERE id = :r"),
                     {"r": trained["weak"]})
    with pytest.raises(RegistryError, match="gate run_completed failed"):
        ops.request_promotion("churn", 1, "staging", actor="bob", source=S, store=store, policy=policy())
    with pytest.raises(RegistryError, match=f"run {trained['weak']} is failed, not done"):
        ops.register(trained["weak"], "churn", actor="bob", source=S, store=store)

    # weaker than the champion on the same held-out data: refused; on other data: "review" for approvers
    with store.write() as conn:
        conn.execute(sa.text("UPDATE runs SET status = 'done' WHERE id = :r"), {"r": trained["weak"]})
    ops.approve(ops.request_promotion("churn", 2, "production", actor="bob", source=S, store=store,
                                      policy=policy())["id"], actor="alice", source=S, store=store, policy=policy())
    with pytest.raises(RegistryError, match="does not beat it"):
        ops.request_promotion("churn", 1, "production", actor="bob", source=S, store=store, policy=policy())
    with store.write() as conn:
        conn.execute(sa.text("UPDATE model_versions SET dataset_fingerprint = 'other' WHERE version = 1"))
    req = ops.request_promotion("churn", 1, "production", actor="bob", source=S, store=store, policy=policy())
    beat = next(g for g in req["evidence"]["gates"] if g["gate"] == "beat_champion")
    assert beat["status"] == "review" and "not comparable: dataset fingerprint differs" in beat["detail"]


def test_roles_and_unknown_references(store, trained):
    _registered(store, trained)
    with pytest.raises(NotFound, match="has no version 9"):
        ops.request_promotion("churn", 9, "production", actor="bob", source=S, store=store, policy=policy())
    with pytest.raises(NotFound, match="model 'fraud' is not registered"):
        ops.show_model("fraud@production", store=store)
    no_requesters = policy(requester_roles=["ml-lead"])
    with pytest.raises(PermissionDenied, match="'bob' may not request a promotion to production"):
        ops.request_promotion("churn", 2, "production", actor="bob", source=S, store=store, policy=no_requesters)
    req = ops.request_promotion("churn", 2, "production", actor="U0SLACKBOB", source="slack", store=store,
                                policy=policy())
    with pytest.raises(PermissionDenied, match="four-eyes"):
        ops.approve(req["id"], actor="U0SLACKBOB", source="slack", store=store, policy=policy())
    with pytest.raises(RegistryError, match="needs a reason"):
        ops.reject(req["id"], actor="alice", source=S, reason=" ", store=store, policy=policy())
    with pytest.raises(PermissionDenied):
        ops.reject(req["id"], actor="dave", source=S, reason="no", store=store, policy=policy())
    out = ops.reject(req["id"], actor="alice", source=S, reason="needs a canary first", store=store, policy=policy())
    assert out["status"] == "rejected" and out["decided_by"] == "alice"
    with pytest.raises(RegistryError, match="already rejected by alice"):
        ops.approve(req["id"], actor="carol", source=S, store=store, policy=policy())
    with pytest.raises(NotFound):
        ops.show_model("churn@production", store=store)


def test_expired_and_superseded_requests_cannot_be_approved(store, trained):
    _registered(store, trained)
    short = policy(expiry_hours=0.5 / 3600)  # half a second
    old = ops.request_promotion("churn", 1, "production", actor="bob", source=S, store=store, policy=short)
    time.sleep(0.6)
    with pytest.raises(RegistryError, match="expired before approval"):
        ops.approve(old["id"], actor="alice", source=S, store=store, policy=short)
    assert ops.show_approval(old["id"], store=store)["status"] == "expired"

    a = ops.request_promotion("churn", 1, "production", actor="bob", source=S, store=store, policy=policy())
    b = ops.request_promotion("churn", 2, "production", actor="bob", source=S, store=store, policy=policy())
    assert ops.show_approval(a["id"], store=store)["status"] == "superseded"
    with pytest.raises(RegistryError, match="already superseded"):
        ops.approve(a["id"], actor="alice", source=S, store=store, policy=policy())
    ops.approve(b["id"], actor="alice", source=S, store=store, policy=policy())
    # a request whose alias moved after it was made (rollback, another promotion) is superseded on approval
    c = ops.request_promotion("churn", 1, "staging", actor="bob", source=S, store=store,
                              policy=policy())  # staging: applied at once
    assert c["status"] == "approved" and ops.show_model("churn@staging", store=store)["version"] == 1
    pending = ops.list_approvals(actor="bob", source=S, status="pending", store=store)
    assert pending == []


def _race(store, request_id: str, approvers: list[str], pol: dict) -> tuple[list, list]:
    barrier = threading.Barrier(len(approvers))
    wins, errors = [], []

    def go(actor: str) -> None:
        barrier.wait()
        try:
            wins.append(ops.approve(request_id, actor=actor, source=S, store=store, policy=pol))
        except RegistryError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=go, args=(a,)) for a in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return wins, errors


def check_races(store, trained) -> None:
    _registered(store, trained)
    req = ops.request_promotion("churn", 1, "production", actor="bob", source=S, store=store, policy=policy())
    wins, errors = _race(store, req["id"], ["alice", "carol", "erin", "frank", "gina", "hank"], policy())
    assert len(wins) == 1 and len(errors) == 5 and all("already approved" in e for e in errors), errors
    two = policy(approvals=2)
    req2 = ops.request_promotion("churn", 2, "production", actor="bob", source=S, store=store, policy=two)
    wins, errors = _race(store, req2["id"], ["ivan", "judy"], two)
    assert len(wins) == 2 and errors == []
    assert sorted(w["status"] for w in wins) == ["approved", "pending"]
    model = ops.show_model("churn", store=store)
    assert model["aliases"] == {"production": 2}
    assert [(h["version"], h["previous_version"]) for h in model["alias_history"]] == [(2, 1), (1, None)]
    assert ops.audit_verify(store=store)["ok"]


def test_races_have_exactly_one_outcome_sqlite(store, trained):
    check_races(store, trained)


@pytest.mark.postgres
def test_races_have_exactly_one_outcome_postgres(tmp_path, trained):
    from kit import fresh_store

    from mlplat.tracking.store import Store

    base = os.environ.get("MLPLAT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        admin = sa.create_engine(sa.make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text("SELECT 1"))
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    db = f"mlplat_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{db}"'))
    try:
        pg = Store.open(sa.make_url(base).set(database=db).render_as_string(hide_password=False), trained["artifacts"])
        src = fresh_store(tmp_path, trained)[0]
        from mlplat.tracking.schema import artifacts, audit_log, experiments, run_metrics, runs, sweeps

        with src.read() as s, pg.write() as d:  # the trained runs, copied as they are
            for table in (experiments, sweeps, runs, run_metrics, artifacts, audit_log):
                rows = [dict(r._mapping) for r in s.execute(sa.select(table))]
                if rows:
                    d.execute(table.insert(), rows)
        check_races(pg, trained)
        pg.writer.dispose()
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def test_register_best_of_sweep(store, trained):
    assert ops.register_best_of_sweep(trained["sweep_id"], actor="sched", source="schedule", store=store,
                                      policy=policy()) is None  # auto-registration off
    auto = {**policy(), "auto_register": {"enabled": True, "name": "churn-auto"}}
    v = ops.register_best_of_sweep(trained["sweep_id"], actor="sched", source="schedule", store=store, policy=auto)
    assert (v["name"], v["version"], v["run_id"]) == ("churn-auto", 1, trained["strong"])
    assert v["tags"] == {"sweep_id": trained["sweep_id"]}
