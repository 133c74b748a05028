"""`mlplat serve` and `mlplat predict` as a user runs them (subprocesses, real HTTP)."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pandas as pd
import pytest
from kit import CLI, REPO, free_port, fresh_store, policy, run_cli
from waiting import wait_until

from mlplat import ops


@pytest.fixture
def served(tmp_path, trained):
    """A store where churn:1 is in production (registered by bob, approved by alice): (store, url)."""
    store, url = fresh_store(tmp_path, trained)
    ops.register(trained["strong"], "churn", actor="bob", source="test", store=store)
    req = ops.request_promotion("churn", 1, "production", actor="bob", source="test", store=store, policy=policy())
    ops.approve(req["id"], actor="alice", source="test", store=store, policy=policy())
    return store, url


def test_serve_and_batch_predict_from_the_cli(tmp_path, served):
    store, url = served

    data = pd.read_csv(REPO / "data" / "churn.csv").head(1500)
    data.to_csv(tmp_path / "new.csv", index=False)
    out = run_cli(["predict", "churn", "--input", "new.csv", "--output", "scored.parquet", "--chunk-rows", "1000"],
                  cwd=tmp_path, store_url=url)
    assert "scored 1500 rows with churn:1 in 2 chunk(s)" in out.stdout
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == 1500 and {"customer_id", "prediction", "proba.0", "proba.1"} <= set(scored.columns)
    assert ((scored["proba.1"] > 0.5).astype(int) == scored["prediction"]).all()
    data.drop(columns=["region"]).to_csv(tmp_path / "bad.csv", index=False)
    bad = run_cli(["predict", "churn", "--input", "bad.csv", "--output", "x.csv"], cwd=tmp_path, store_url=url,
                  check=False)
    assert bad.returncode == 1 and "lacks the model's feature column(s) 'region'" in bad.stderr
    assert bad.stderr.count("\n") == 1 and not (tmp_path / "x.csv").exists()
    data.assign(contract=["weekly"] + list(data["contract"][1:])).to_csv(tmp_path / "cat.csv", index=False)
    cat = run_cli(["predict", "churn", "--input", "cat.csv", "--output", "x.csv"], cwd=tmp_path, store_url=url,
                  check=False)
    assert cat.returncode == 1 and "feature 'contract': must be one of" in cat.stderr and "in row 0" in cat.stderr
    assert cat.stderr.count("\n") == 1 and "Traceback" not in cat.stderr and not (tmp_path / "x.csv").exists()

    port = free_port()
    env = {**os.environ, "MLPLAT_STORE_URL": url, "MLPLAT_ACTOR": "bob"}
    proc = subprocess.Popen([*CLI, "serve", "churn", "--alias", "production", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def ready():
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=30, interval=0.2)
        row = data.drop(columns=["customer_id", "churned"]).iloc[[0]]
        r = httpx.post(f"{base}/v1/models/churn/predict", json={"records": row.to_dict("records")}, timeout=5)
        assert r.status_code == 200 and r.json()["version"] == 1
        assert abs(r.json()["probabilities"][0][1] - scored["proba.1"].iloc[0]) < 1e-12
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    starts = ops.audit_log(action="serve.start", store=store)
    assert [(e["actor"], e["object_id"]) for e in starts] == [("bob", "churn@production")]


def test_batch_predict_refuses_bad_files_in_one_line_and_writes_nothing(tmp_path, served):
    store, url = served
    data = pd.read_csv(REPO / "data" / "churn.csv").head(50)
    data.head(0).to_csv(tmp_path / "header_only.csv", index=False)
    (tmp_path / "garbage.parquet").write_bytes(b"PAR1 not really" * 100)
    data.to_csv(tmp_path / "ok.csv", index=False)
    typed = data.astype({"tenure_months": object})
    typed.loc[40, "tenure_months"] = "ten"  # found by the reader thread, reported by the command
    typed.to_csv(tmp_path / "typed.csv", index=False)
    cases = [
        (["--input", "typed.csv", "--output", "o.csv"], "feature 'tenure_months' must be a whole number"),
        (["--input", "header_only.csv", "--output", "o.parquet"], "has no rows"),
        (["--input", "garbage.parquet", "--output", "o.parquet"], "is not a readable Parquet file"),
        (["--input", "missing.csv", "--output", "o.parquet"], "input file 'missing.csv' not found"),
        (["--input", "ok.csv", "--output", "o.txt"], "output file 'o.txt' has suffix '.txt': expected .csv or .parquet"),
    ]
    for args, message in cases:
        r = run_cli(["predict", "churn", *args], cwd=tmp_path, store_url=url, check=False)
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".o.*"))
    assert ops.audit_log(action="predict.batch", store=store) == []  # nothing scored, nothing recorded
