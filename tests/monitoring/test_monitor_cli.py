"""`mlplat monitor ...` end to end through the real CLI on a model trained and registered by the CLI:
injected drift found per feature, an undrifted sample stays ok, bad input reported per feature,
performance on labels, history, alert dedup across processes, retraining ending in a pending approval."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from monitor_kit import churn, drifted, fresh_project, train_and_register

from mlplat import ops
from mlplat.notify import set_notifier


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    return train_and_register(tmp_path_factory.getbasetemp() / "monitor_churn")


@pytest.fixture
def project(tmp_path, trained):
    return fresh_project(tmp_path, trained)


def test_injected_drift_is_found_per_feature_and_reported(project):
    drifted().to_parquet(project.root / "batch.parquet")
    out = project.json("monitor", "drift", "churn", "--current", "batch.parquet", "--output", "drift.html")
    feats = out["features"]
    assert out["status"] == "drift" and out["dataset_drift"] and out["ref"] == "churn:1"
    assert feats["monthly_charges"]["status"] == "drift"  # mean shift
    assert feats["tenure_months"]["status"] == "drift"  # scale change, same mean
    assert feats["contract"]["status"] == "drift" and feats["contract"]["unseen_categories"] == ["monthly_plus"]
    assert feats["region"]["status"] == "drift" and "null share" in feats["region"]["reason"]
    assert feats["support_calls"]["status"] != "drift"  # untouched (sampling noise may reach "warn")
    assert out["predictions"]["prediction"]["status"] == "drift"  # the model's probabilities moved too
    assert set(out["ignored_columns"]) == {"customer_id", "churned"}
    # worst first: every drifted feature precedes the untouched one
    names = [f["name"] for f in out["worst_features"]]
    assert "support_calls" not in names and len(names) == 5
    html = (project.root / "drift.html").read_text()
    assert html.lower().startswith("<!doctype html>") and "monthly_plus" in html and len(html) < 1_000_000
    assert Path(project.root / out["reports"]["html"]).is_file()
    assert json.loads((project.root / out["reports"]["json"]).read_text())["status"] == "drift"


def test_undrifted_sample_is_ok_and_history_lists_checks(project):
    churn().to_csv(project.root / "same.csv", index=False)
    p = project.mlplat("monitor", "drift", "churn:1", "--current", "same.csv")
    assert p.returncode == 0, p.stderr
    assert "churn:1: ok - 0/5 features drifted" in p.stdout and "Traceback" not in p.stderr
    # the page goes to the file; the terminal gets one line saying where
    page = project.mlplat("monitor", "drift", "churn:1", "--current", "same.csv", "--format", "html",
                          "--output", "same.html")
    assert page.returncode == 0 and len(page.stdout.splitlines()) == 1, page.stdout[:300]
    assert "churn:1: ok" in page.stdout and "same.html" in page.stdout
    assert (project.root / "same.html").read_text().lower().startswith("<!doctype html>")
    drifted().to_csv(project.root / "batch.csv", index=False)
    ops.check_drift("churn", current=str(project.root / "batch.csv"), actor="t", source="test", store=project.store(),
                    overrides=[f"monitor.reports_dir={project.root / 'reports'}"])
    hist = ops.monitor_history("churn", store=project.store())
    assert [h["status"] for h in hist] == ["drift", "ok", "ok"]  # newest first
    assert hist[0]["features"]["contract"] == "drift" and hist[2]["input"] == "same.csv"
    assert all(h["kind"] == "drift" and h["version"] == 1 and h["actor"] for h in hist)
    table = project.mlplat("monitor", "history", "churn")
    assert table.returncode == 0 and "contract=drift" in table.stdout and "same.csv" in table.stdout


def test_bad_input_is_reported_per_feature_and_exits_nonzero_only_when_nothing_was_checked(project):
    bad = churn().sample(400, random_state=3).drop(columns=["support_calls"]).assign(extra=1)
    bad["monthly_charges"] = bad["monthly_charges"].astype(str)
    bad.iloc[5, bad.columns.get_loc("monthly_charges")] = "n/a-ish"
    bad["region"] = np.nan
    bad.to_csv(project.root / "bad.csv", index=False)
    out = project.json("monitor", "drift", "churn", "--current", "bad.csv")
    feats = out["features"]
    assert feats["support_calls"] == {**feats["support_calls"], "status": "error",
                                      "reason": "column missing from current data"}
    assert feats["monthly_charges"]["status"] == "error" and "non-numeric" in feats["monthly_charges"]["reason"]
    assert feats["region"]["status"] == "error" and "no non-null values" in feats["region"]["reason"]
    assert feats["contract"]["status"] == "ok" and "extra" in out["ignored_columns"]
    assert out["status"] == "warn" and any("prediction drift not checked" in n for n in out["notes"])

    churn().iloc[0:0].to_csv(project.root / "empty.csv", index=False)
    p = project.mlplat("monitor", "drift", "churn", "--current", "empty.csv")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "error: nothing could be checked for churn:1: current data is empty" in p.stderr
    assert "current data is empty" in p.stdout  # the per-feature table is still shown

    p = project.mlplat("monitor", "drift", "churn", "--current", "missing.parquet")
    assert p.returncode == 1 and p.stderr.strip() == "error: current file 'missing.parquet' not found; check the path"

    con = sqlite3.connect(project.db)  # a model trained before profiles existed
    con.execute("DELETE FROM artifacts WHERE name = 'profile.json'")
    con.commit()
    con.close()
    churn().to_csv(project.root / "same.csv", index=False)
    p = project.mlplat("monitor", "drift", "churn", "--current", "same.csv", "--format", "json")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "churn:1 has no reference profile" in p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "error" and all("no reference profile" in f["reason"] for f in out["features"].values())


def test_performance_against_labels_joined_by_id(project):
    sample = churn().sample(400, random_state=4)
    sample.to_csv(project.root / "scored.csv", index=False)
    sample[["customer_id", "churned"]].to_csv(project.root / "labels.csv", index=False)
    ok = project.json("monitor", "performance", "churn", "--labels", "labels.csv", "--current", "scored.csv")
    assert ok["status"] in ("ok", "warn") and ok["n_rows"] == 400
    assert set(ok["metrics"]) == {"accuracy", "f1", "roc_auc", "log_loss"}
    # the independent computation: the same model, plain scikit-learn
    import joblib
    from sklearn.metrics import accuracy_score

    con = sqlite3.connect(project.db)
    path = con.execute("SELECT model_path FROM model_versions WHERE name='churn' AND version=1").fetchone()[0]
    con.close()
    model = joblib.load(path)
    X = sample.drop(columns=["customer_id", "churned"])
    assert ok["metrics"]["accuracy"]["current"] == pytest.approx(accuracy_score(sample["churned"], model.predict(X)))

    flipped = sample[["customer_id", "churned"]].assign(churned=1 - sample["churned"])
    flipped.to_csv(project.root / "flipped.csv", index=False)
    bad = project.json("monitor", "performance", "churn", "--labels", "flipped.csv", "--current", "scored.csv")
    assert bad["status"] == "degraded" and bad["metrics"]["roc_auc"]["status"] == "degraded"
    assert bad["metrics"]["roc_auc"]["current"] < 0.5 and bad["alert"]["sent"]


def test_alerts_are_deduplicated_within_the_cool_down_across_processes(project):
    drifted().to_parquet(project.root / "batch.parquet")
    events: list[dict] = []

    class Recorder:
        def notify(self, event: dict) -> None:
            events.append(event)

    set_notifier(Recorder())
    try:
        store = project.store()
        kw = {"current": str(project.root / "batch.parquet"), "actor": "t", "source": "test", "store": store,
              "overrides": [f"monitor.reports_dir={project.root / 'reports'}"]}
        first = ops.check_drift("churn", **kw)
        second = ops.check_drift("churn", **kw)
    finally:
        set_notifier(None)
    assert first["alert"]["sent"] and not second["alert"]["sent"]
    assert len(events) == 1 and events[0]["kind"] == "drift" and events[0]["model"] == "churn"
    assert "contract" in events[0]["details"]["new"] and first["reports"]["html"] in events[0]["attachments"]
    assert set(second["alert"]["suppressed"]) == set(first["alert"]["new"])
    # another process (the CLI) within the cool-down: suppressed too, nothing in its alerts.jsonl
    p = project.mlplat("monitor", "drift", "churn", "--current", "batch.parquet")
    assert p.returncode == 0 and "alert not re-sent (cool-down)" in p.stdout
    assert not (project.root / "runs" / "alerts.jsonl").exists()
    # with a cool-down already over, the same findings go out again (to the CLI's JSON-lines log)
    p = project.mlplat("monitor", "drift", "churn", "--current", "batch.parquet", "--set", "monitor.alerts.cooldown=0s")
    assert p.returncode == 0 and "alert sent for: dataset" in p.stdout
    sent = [json.loads(line) for line in (project.root / "runs" / "alerts.jsonl").read_text().splitlines()]
    assert len(sent) == 1 and sent[0]["status"] == "drift"


def test_confirmed_drift_retrains_registers_and_opens_an_approval_never_promotes(project):
    drifted().to_parquet(project.root / "batch.parquet")
    settings = ["monitor.retrain.when=drift", "monitor.retrain.confirm=2", "monitor.retrain.wait=true",
                "monitor.retrain.command=['dataset=churn','evaluation=fast','model=logreg']"]
    store = project.store()
    first = ops.check_drift("churn", current=str(project.root / "batch.parquet"), actor="t", source="test",
                            store=store, overrides=[*settings, f"monitor.reports_dir={project.root / 'reports'}"])
    assert first["retrain"]["status"] == "waiting"  # one drifted batch is not yet confirmed drift
    args = [a for s in settings for a in ("--set", s)]
    out = project.json("monitor", "drift", "churn", "--current", "batch.parquet", *args)
    r = out["retrain"]
    assert r["status"] == "done", r
    assert r["version"] == 2 and r["approval"]["status"] == "pending" and r["approval"]["target"] == "production"
    pending = ops.list_approvals(actor="t", source="test", status="pending", store=store)
    assert [(a["name"], a["version"], a["requester"]) for a in pending] == [("churn", 2, "monitor")]
    assert "production" not in ops.show_model("churn", store=store)["aliases"]  # requested, never promoted
    con = sqlite3.connect(project.db)
    run = con.execute("SELECT actor, source FROM runs WHERE id = ?", (r["run_id"],)).fetchone()
    actions = [a for (a,) in con.execute("SELECT action FROM audit_log WHERE action LIKE 'monitor.%' ORDER BY seq")]
    con.close()
    assert run == ("monitor", "monitor")
    assert actions == ["monitor.drift", "monitor.drift", "monitor.retrain.start", "monitor.retrain.done"]
    # within retrain.cooldown a third confirmed drift does not launch another training
    third = ops.check_drift("churn:1", current=str(project.root / "batch.parquet"), actor="t", source="test",
                            store=store, overrides=[*settings, f"monitor.reports_dir={project.root / 'reports'}"])
    assert third["retrain"]["status"] == "skipped"


def test_config_errors_are_one_line(project):
    churn().to_csv(project.root / "same.csv", index=False)
    p = project.mlplat("monitor", "drift", "churn", "--current", "same.csv", "--set", "monitor.drift.num_method=magic")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.strip().startswith("error: conf/monitor: drift.num_method='magic' is not a method")
    p = project.mlplat("monitor", "drift", "churn")
    assert p.returncode == 2 and "one of the arguments --current --since is required" in p.stderr




def test_retrain_with_the_shipped_config_then_a_newer_versions_scored_file_is_checked_as_that_version(project):
    # the shipped conf/monitor declares no retraining: train again as churn:1 was trained
    out = project.json("monitor", "retrain", "churn", "--format", "json")
    assert out["status"] == "done" and out["version"] == 2 and out["approval"]["status"] == "pending", out
    con = sqlite3.connect(project.db)
    first, again = (json.loads(o) for (o,) in con.execute("SELECT overrides FROM runs ORDER BY started_at"))
    con.close()
    kept = [o for o in again if not o.startswith(("tracking.", "hydra.", "++tags.monitor_retrain="))]
    assert kept == [o for o in first if not o.startswith(("tracking.", "hydra."))] == [
        "dataset=churn", "evaluation=fast", "model=logreg"]
    # the example of `monitor retrain --help` is a valid override
    help_text = "".join(project.mlplat("monitor", "retrain", "--help").stdout.split())  # undo argparse's wrapping
    example = re.search(r"'(monitor\.retrain\.command=[^']*)'", help_text).group(1)
    from mlplat.ops.monitoring_inputs import _Context
    assert _Context(None, {}, [example], project.store()).settings["retrain"]["command"] == ["experiment=churn_baseline"]

    sample = churn().sample(200, random_state=5)
    sample.to_csv(project.root / "batch.csv", index=False)
    sample[["customer_id", "churned"]].to_csv(project.root / "labels.csv", index=False)
    p = project.mlplat("predict", "churn:2", "--input", "batch.csv", "--output", "scored.csv")
    assert p.returncode == 0, p.stderr
    perf = project.json("monitor", "performance", "churn", "--labels", "labels.csv", "--current", "scored.csv")
    assert perf["ref"] == "churn:2" and perf["version"] == 2
    p = project.mlplat("monitor", "performance", "churn:1", "--labels", "labels.csv", "--current", "scored.csv")
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.strip() == ("error: current file 'scored.csv' was scored by churn:2, not churn:1 (churn:1): check "
                                "churn:2, or score the file with `mlplat predict churn:1 --input FILE --output SCORED` first")
