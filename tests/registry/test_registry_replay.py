"""`audit verify` replays the trail against the registry's tables, and `audit log --object NAME`
shows the model's promotion requests, approvals and rejections."""

from __future__ import annotations

import sqlalchemy as sa
from kit import policy, run_cli

from mlplat import ops

S = "test"


def _history(store, trained) -> dict:
    """Two versions; v1 to staging at once; v2 requested for production and approved; another
    request for v1 to production rejected."""
    ops.register(trained["weak"], "churn", actor="bob", source=S, store=store)
    ops.register(trained["strong"], "churn", actor="bob", source=S, store=store)
    ops.request_promotion("churn", 1, "staging", actor="bob", source=S, store=store, policy=policy())
    req = ops.request_promotion("churn", 2, "production", actor="bob", source=S, store=store, policy=policy())
    ops.approve(req["id"], actor="alice", source=S, store=store, policy=policy())
    other = ops.request_promotion("churn", 1, "production", actor="bob", source=S, store=store,
                                  policy=policy(gates={"run_completed": True}))
    ops.reject(other["id"], actor="carol", source=S, reason="weaker", store=store, policy=policy())
    return {"approved": req["id"], "rejected": other["id"]}


def _sql(store, statement: str, **params) -> None:
    with store.writer.begin() as conn:
        conn.execute(sa.text(statement), params)


def test_every_registry_row_is_explained_until_one_is_written_in_sql(store, trained):
    ids = _history(store, trained)
    clean = ops.audit_verify(store=store)
    assert clean["ok"] and clean["unexplained"] == []
    _sql(store, "UPDATE model_aliases SET version = 1 WHERE name = 'churn' AND alias = 'production'")
    _sql(store, "INSERT INTO approvals (request_id, approver, source, ts) VALUES (:r, 'mallory', 'sql', 0)",
         r=ids["rejected"])
    _sql(store, "UPDATE approval_requests SET status = 'approved' WHERE id = :r", r=ids["rejected"])
    _sql(store, "UPDATE model_versions SET model_sha256 = :h WHERE name = 'churn' AND version = 2", h="0" * 64)
    _sql(store, "INSERT INTO alias_history (name, alias, version, ts, action, actor, source) "
                "VALUES ('churn', 'staging', 2, 0, 'promote', 'mallory', 'sql')")
    r = ops.audit_verify(store=store)
    assert not r["ok"] and r["first_bad_seq"] is None  # the chain itself is intact
    assert sorted(r["unexplained"]) == sorted([
        "alias churn@production points at version 1 but the trail last moved it to 2",
        f"approval of request {ids['rejected']} by 'mallory' has no approval.add entry",
        f"promotion request {ids['rejected']} is approved but the trail says rejected",
        "model version churn:2 differs from its model.register entry (model digest or run changed)",
        "alias history of churn@staging has 1 promote to version 2 the trail does not record",
    ])


def test_the_cli_reports_unexplained_rows_and_signs_checkpoints(tmp_path, trained, store_url, store):
    _history(store, trained)
    cli = dict(cwd=tmp_path, store_url=store_url)
    signed = run_cli(["audit", "checkpoint"], **cli)
    assert signed.stdout.startswith("checkpoint 1: entry ")
    ok = run_cli(["audit", "verify"], **cli)
    assert "audit trail intact" in ok.stdout and "1 checkpoint(s)" in ok.stdout
    _sql(store, "INSERT INTO model_versions SELECT name, 3, run_id, created_at, actor, source, description, tags, "
                "task, primary_metric, metrics, signature, dataset, dataset_fingerprint, config_hash, code_version, "
                "seed, test_size, model_path, model_sha256 FROM model_versions WHERE version = 2")
    bad = run_cli(["audit", "verify"], check=False, **cli)
    assert bad.returncode == 1 and "model version churn:3 has no model.register entry" in bad.stdout


def test_audit_log_of_a_model_shows_its_requests_approvals_and_rejections(store, trained):
    ids = _history(store, trained)
    actions = {(e["action"], e["object_id"]) for e in ops.audit_log(object_id="churn", limit=100, store=store)}
    assert {("promotion.request", ids["approved"]), ("approval.add", ids["approved"]),
            ("promotion.approved", ids["approved"]), ("promotion.request", ids["rejected"]),
            ("promotion.rejected", ids["rejected"]), ("model.register", "churn:2")} <= actions
    of_v1 = {e["object_id"] for e in ops.audit_log(object_id="churn:1", limit=100, store=store)}
    assert ids["rejected"] in of_v1 and ids["approved"] not in of_v1
