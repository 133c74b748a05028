"""The team path from the CLI: artifacts in moto's S3 server, the store in PostgreSQL (CI) or SQLite.

train -> register -> predict -> prune -> audit verify, and serve (a tampered object refused) -> the
prediction log in the bucket -> monitor drift, all reading models from s3:// through the artifact store (the endpoint-down line is tested in process, in
test_artifacts_object_store.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pandas as pd
import sqlalchemy as sa

from mlplat import ops
from mlplat.tracking.store import Store
from tests.conftest import REPO
from tests.s3_kit import free_port
from tests.waiting import wait_until

CLI = [sys.executable, "-m", "mlplat.cli"]


def _store_url(request, tmp_path) -> str:
    return request.getfixturevalue("pg_url") if os.environ.get("CI") == "true" else f"sqlite:///{tmp_path / 'm.db'}"


def _env(s3, url, tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "AWS_"))}
    return {**env, **s3.env(), "MLPLAT_STORE_URL": url, "MLPLAT_ARTIFACT_CACHE": str(tmp_path / "cache"),
            "PYTHONPATH": str(REPO), "MLPLAT_ACTOR": "bob", **extra}


def _cli(args, env, cwd, check=True):
    p = subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert not check or p.returncode == 0, f"mlplat {' '.join(args)}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def test_train_register_predict_prune_audit_on_s3(request, tmp_path, s3):
    url, bucket = _store_url(request, tmp_path), s3.make_bucket("team")
    env = _env(s3, url, tmp_path, MLPLAT_ARTIFACTS=f"s3://{bucket}/mlplat")
    _cli(["train", "-m", "dataset=churn", "evaluation=fast", "model=logreg", "model.classifier_params.C=1.0,0.01",
          "tracking=team", f"hydra.sweep.dir={tmp_path / 'hydra'}"], env, tmp_path)
    store = Store.open(url, f"s3://{bucket}/mlplat")
    with store.read() as conn:
        rows = conn.execute(sa.text("SELECT run_id, path FROM artifacts ORDER BY run_id, name")).all()
    run_ids = sorted({r.run_id for r in rows})
    assert len(run_ids) == 2 and all(r.path.startswith(f"s3://{bucket}/mlplat/{r.run_id}/") for r in rows)
    keys = {o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {r.path.split(f"{bucket}/", 1)[1] for r in rows}
    assert not (tmp_path / "runs" / "artifacts").exists()  # nothing written to a local folder

    _cli(["models", "register", run_ids[0], "--name", "churn"], env, tmp_path)
    req = ops.request_promotion("churn", 1, "staging", actor="bob", source="test", store=store)
    assert req["status"] in ("applied", "approved")
    data = pd.read_csv(REPO / "data" / "churn.csv").head(200)
    data.to_csv(tmp_path / "new.csv", index=False)
    out = _cli(["predict", "churn@staging", "--input", "new.csv", "--output", "scored.csv"], env, tmp_path)
    assert "scored 200 rows with churn:1" in out.stdout
    sha = ops.show_model("churn:1", store=store)["model_sha256"]
    assert (tmp_path / "cache" / sha).is_file()  # the model came from S3 once, now cached by digest

    pruned = _cli(["store", "prune", "--older-than", "1s", "--keep-registered"], env, tmp_path)
    assert "1 run" in pruned.stdout, pruned.stdout
    left = {o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert left and all(k.startswith(f"mlplat/{run_ids[0]}/") for k in left)  # the registered run's objects stay
    _cli(["audit", "verify"], env, tmp_path)


def test_serve_from_s3_refuse_a_tampered_object_and_monitor_the_log_in_s3(request, tmp_path, s3):
    """`mlplat serve --workers 2` loads its model from the object store in each worker, keeps serving
    it when a new version's object does not match its digest, logs to the object store from both
    workers, and `monitor drift --since` reads that log back."""
    url, bucket = _store_url(request, tmp_path), s3.make_bucket("serve")
    # the project's own serving config: the prediction log in the bucket, a quick alias poll
    shipped = (REPO / "conf" / "serving" / "default.yaml").read_text()
    conf = tmp_path / "conf" / "serving"
    conf.mkdir(parents=True)
    (conf / "default.yaml").write_text(shipped.replace("  dir: runs/predictions", f"  dir: s3://{bucket}/predictions")
                                       .replace("poll_interval_s: 1.0", "poll_interval_s: 0.2"))
    (tmp_path / "data").mkdir()  # the project's data: tmp_path is now the project root
    (tmp_path / "data" / "churn.csv").write_bytes((REPO / "data" / "churn.csv").read_bytes())
    env = _env(s3, url, tmp_path, MLPLAT_ARTIFACTS=f"s3://{bucket}/mlplat", MLPLAT_CONF_DIR=str(tmp_path / "conf"))
    _cli(["train", "-m", "dataset=churn", "evaluation=fast", "model=logreg", "model.classifier_params.C=1.0,0.01",
          "tracking=team", f"hydra.sweep.dir={tmp_path / 'hydra'}"], env, tmp_path)
    store = Store.open(url, f"s3://{bucket}/mlplat")
    run_ids = [r["id"] for r in ops.list_runs(store=store)][::-1]
    for run_id in run_ids:
        _cli(["models", "register", run_id, "--name", "churn"], env, tmp_path)
    ops.request_promotion("churn", 1, "staging", actor="bob", source="test", store=store)
    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "churn", "--alias", "staging", "--port", str(port), "--workers", "2"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    rows = pd.read_csv(REPO / "data" / "churn.csv").drop(columns=["customer_id", "churned"]).head(50)
    body = {"records": json.loads(rows.to_json(orient="records"))}  # NaN as null
    try:
        wait_until(lambda: proc.poll() is None and _ready(base), timeout=120, interval=0.2)
        first = httpx.post(f"{base}/v1/models/churn/predict", json=body, timeout=10)
        assert first.status_code == 200 and first.json()["version"] == 1
        # both workers load the model from the bucket and answer (each names its pid)
        workers = wait_until(lambda: (lambda w: w if len(w) == 2 else None)(
            {httpx.get(f"{base}/readyz", timeout=5).headers.get("x-mlplat-worker") for _ in range(20)}),
            timeout=60, interval=0)
        # version 2's object in the bucket no longer matches its recorded sha256
        key = ops.show_model("churn:2", store=store)["model_path"].split(f"{bucket}/", 1)[1]
        s3.client().put_object(Bucket=bucket, Key=key, Body=b"not the model that was trained")
        ops.request_promotion("churn", 2, "staging", actor="bob", source="test", store=store)
        # each worker refuses it (the metric is the sum over both) and serves the last good version on
        wait_until(lambda: _metric(httpx.get(f"{base}/metrics", timeout=5).text,
                                   'mlplat_model_load_failures_total{model="churn"}') >= 2, timeout=30, interval=0.2)
        answers = [httpx.post(f"{base}/v1/models/churn/predict", json=body, timeout=10) for _ in range(8)]
        assert {(a.status_code, a.json()["version"]) for a in answers} == {(200, 1)}
        assert {a.headers.get("x-mlplat-worker") for a in answers} <= workers
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    # uvicorn shuts down gracefully (the log flushed), then re-raises the signal it caught
    assert code in (0, -signal.SIGTERM), proc.stderr.read()
    logged = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket, Prefix="predictions/")["Contents"]]
    assert logged and all("/model=churn/version=1/date=" in k for k in logged)
    assert not (tmp_path / "runs" / "predictions").exists()
    drift = _cli(["monitor", "drift", "churn:1", "--since", "1h", "--format", "json"], env, tmp_path, check=False)
    assert drift.returncode in (0, 1), drift.stderr
    assert json.loads(drift.stdout)["n_rows"] == 50 * 9  # every answered row (9 requests), from both workers' files in the bucket


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _metric(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))
