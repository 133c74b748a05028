"""The registry through its real front door: `mlplat` in a subprocess on a private store."""

from __future__ import annotations

import json
import sqlite3

from kit import run_cli

from mlplat import ops
from mlplat.tracking.store import Store


def _json(p):
    return json.loads(p.stdout)


def test_register_promote_approve_rollback_flow(tmp_path, trained, store_url):
    cli = dict(cwd=tmp_path, store_url=store_url)
    v1 = _json(run_cli(["models", "register", trained["weak"], "--name", "churn", "--tag", "team=growth",
                        "--format", "json"], actor="bob", **cli))
    assert (v1["version"], v1["run_id"], v1["tags"]) == (1, trained["weak"], {"team": "growth"})
    assert [i["name"] for i in v1["signature"]["inputs"]] == ["tenure_months", "monthly_charges", "support_calls",
                                                             "contract", "region"]
    assert v1["dataset_fingerprint"] and v1["config_hash"] and len(v1["model_sha256"]) == 64
    run_cli(["models", "register", trained["strong"], "--name", "churn"], actor="bob", **cli)

    req = _json(run_cli(["models", "promote", "churn", "1", "--to", "production", "--format", "json"],
                        actor="bob", **cli))
    assert req["status"] == "pending" and {g["gate"]: g["status"] for g in req["evidence"]["gates"]} == {
        "run_completed": "pass", "validation_passed": "pass", "beat_champion": "pass"}
    pending = _json(run_cli(["approvals", "list", "--pending", "--format", "json"], **cli))
    assert [r["id"] for r in pending] == [req["id"]]
    own = run_cli(["approve", req["id"]], actor="bob", check=False, **cli)
    assert own.returncode == 1 and own.stderr.count("\n") == 1 and "four-eyes" in own.stderr
    ok = run_cli(["approve", req["id"], "--comment", "lgtm"], actor="alice", **cli)
    assert "churn@production now points at version 1" in ok.stdout

    req2 = _json(run_cli(["models", "promote", "churn", "2", "--to", "production", "--format", "json"],
                         actor="bob", **cli))
    beat = next(g for g in req2["evidence"]["gates"] if g["gate"] == "beat_champion")
    assert beat["status"] == "pass" and beat["comparable"] and beat["champion_version"] == 1
    run_cli(["approve", req2["id"]], actor="carol", **cli)
    assert _json(run_cli(["models", "show", "churn@production", "--format", "json"], **cli))["version"] == 2

    rb = run_cli(["models", "rollback", "churn"], actor="alice", **cli)
    assert "version 2 -> 1" in rb.stdout
    model = _json(run_cli(["models", "show", "churn", "--format", "json"], **cli))
    assert model["aliases"] == {"production": 1}
    assert [(h["action"], h["version"]) for h in model["alias_history"]] == [("rollback", 1), ("promote", 2),
                                                                            ("promote", 1)]
    # which version served production at a given time: just before the rollback it was 2
    t_rollback = model["alias_history"][0]["ts"]
    at = _json(run_cli(["models", "show", "churn@production", "--at", str(t_rollback - 1e-3), "--format", "json"],
                       **cli))
    assert at["version"] == 2

    log = _json(run_cli(["audit", "log", "--object", "churn", "--format", "json"], **cli))
    actions = [e["action"] for e in log]
    assert actions[0] == "alias.rollback" and actions.count("model.register") == 2 and "alias.promote" in actions
    assert {e["actor"] for e in log} >= {"alice", "bob", "carol"}
    denials = ops.audit_log(action="approval.denied", store=Store.open(store_url, trained["artifacts"]))
    assert [(e["actor"], e["object_id"]) for e in denials] == [("bob", req["id"])]  # refusals are on record too


def test_cli_refusals_are_one_line(tmp_path, trained, store_url):
    cli = dict(cwd=tmp_path, store_url=store_url, check=False)
    for args, message in [(["models", "show", "nope"], "model 'nope' is not registered"),
                          (["models", "rollback", "churn"], "'bob' may not roll back")]:
        p = run_cli(args, actor="bob", **cli)
        assert p.returncode == 1 and message in p.stderr and p.stderr.count("\n") == 1, (args, p.stderr)


def test_audit_verify_detects_edit_delete_and_reorder(tmp_path, trained, store_url):
    cli = dict(cwd=tmp_path, store_url=store_url)
    run_cli(["models", "register", trained["weak"], "--name", "churn"], **cli)
    ok = run_cli(["audit", "verify", "--format", "json"], **cli)
    entries = _json(ok)["entries"]
    assert _json(ok)["ok"] and entries >= 5  # runs start/done x2, sweep, registration

    db = store_url.removeprefix("sqlite:///")
    con = sqlite3.connect(db)
    original = con.execute("SELECT payload FROM audit_log WHERE seq=3").fetchone()[0]
    con.execute("UPDATE audit_log SET payload=? WHERE seq=3", (original.replace("}", ', "x": 1}', 1),))
    con.commit()
    bad = run_cli(["audit", "verify"], check=False, **cli)
    assert bad.returncode == 1 and "BROKEN at entry 3" in bad.stdout and "payload was changed" in bad.stdout
    store = Store.open(store_url, trained["artifacts"])

    con.execute("UPDATE audit_log SET payload=? WHERE seq=3", (original,))
    con.execute("UPDATE audit_log SET actor='mallory' WHERE seq=2")
    con.commit()
    assert ops.audit_verify(store=store)["first_bad_seq"] == 2

    # restore entry 2 from a pristine copy, then delete the last entry's predecessor
    pristine = sqlite3.connect(trained["db"]).execute("SELECT actor FROM audit_log WHERE seq=2").fetchone()[0]
    con.execute("UPDATE audit_log SET actor=? WHERE seq=2", (pristine,))
    con.execute("DELETE FROM audit_log WHERE seq=?", (entries - 1,))
    con.commit()
    gone = ops.audit_verify(store=store)
    assert not gone["ok"] and gone["reason"] == f"entry {entries - 1} is missing (next is {entries})"

    # swapping two entries' contents (reordering) breaks the chain at the first of them
    con.execute("DELETE FROM audit_log")
    con.commit()
    con.execute("ATTACH DATABASE ? AS base", (trained["db"],))
    con.execute("INSERT INTO audit_log SELECT * FROM base.audit_log")
    con.commit()
    rows = con.execute("SELECT seq, ts, actor, source, action, object_type, object_id, payload, payload_digest, "
                       "prev_hash, hash FROM audit_log WHERE seq IN (2, 3) ORDER BY seq").fetchall()
    for seq, row in ((2, rows[1]), (3, rows[0])):
        con.execute("UPDATE audit_log SET ts=?, actor=?, source=?, action=?, object_type=?, object_id=?, payload=?, "
                    "payload_digest=?, prev_hash=?, hash=? WHERE seq=?", (*row[1:], seq))
    con.commit()
    con.close()
    swapped = ops.audit_verify(store=store)
    assert not swapped["ok"] and swapped["first_bad_seq"] == 2
