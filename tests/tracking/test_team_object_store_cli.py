"""The team path from the CLI: artifacts in moto's S3 server, the store in PostgreSQL (CI) or SQLite.

train -> register -> predict -> prune -> audit verify, all reading models from
s3:// through the artifact store (the endpoint-down line is tested in process, in
test_artifacts_object_store.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import sqlalchemy as sa

from mlplat import ops
from mlplat.tracking.store import Store
from tests.conftest import REPO

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
