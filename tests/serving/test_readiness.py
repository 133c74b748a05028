"""A version is ready only when its artifact is a fitted estimator taking the signature's
inputs: a non-model object under a correct sha256 (file swapped, digest updated in the
database) is refused by the service (/readyz 503 naming why) and by `mlplat predict` (one
stderr line), in process and through the real doors."""

from __future__ import annotations

import hashlib
import io
import sqlite3

import httpx
import joblib
import pandas as pd
import pytest
from kit import REPO, Server, fresh_store, policy, run_cli
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from waiting import wait_until

from mlplat import ops
from mlplat.errors import ServingError
from mlplat.serving.holder import check_servable

SIGNATURE = {"inputs": [{"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "float64"}],
             "output": {"classes": [0, 1]}}
XY = (pd.DataFrame({"a": [0.0, 1, 2, 3], "b": [1.0, 0, 1, 0]}), [0, 0, 1, 1])


@pytest.mark.parametrize("obj, needle", [
    ({"not": "a model"}, "holds a dict, not a scikit-learn compatible estimator"),
    (make_pipeline(StandardScaler(), LogisticRegression()), "is not fitted"),
    (make_pipeline(StandardScaler(), LogisticRegression()).fit(XY[0].rename(columns={"b": "c"}), XY[1]),
     "fitted on columns ['a', 'c'] but the signature declares ['a', 'b']"),
    (make_pipeline(StandardScaler(), LogisticRegression()).fit(XY[0], ["x", "x", "y", "y"]),
     "classes ['x', 'y'] differ from the signature's [0, 1]"),
])
def test_objects_that_cannot_serve_the_signature_are_refused(obj, needle):
    with pytest.raises(ServingError, match="m:1: ") as err:
        check_servable(obj, SIGNATURE, "m:1")
    assert needle in str(err.value)
    check_servable(make_pipeline(StandardScaler(), LogisticRegression()).fit(*XY), SIGNATURE, "m:1")


def swap_model(db: str, tmp_path, obj) -> None:
    """What an attacker with database access does: a new pickle, its digest recorded."""
    buf = io.BytesIO()
    joblib.dump(obj, buf)
    path = tmp_path / "swapped.joblib"
    path.write_bytes(buf.getvalue())
    con = sqlite3.connect(db)
    con.execute("UPDATE model_versions SET model_path = ?, model_sha256 = ? WHERE name = 'churn' AND version = 1",
                (str(path), hashlib.sha256(buf.getvalue()).hexdigest()))
    con.commit()
    con.close()


def test_a_swapped_object_with_a_valid_digest_is_not_ready_and_predict_says_so_in_one_line(tmp_path, trained):
    store, url = fresh_store(tmp_path, trained)
    ops.register(trained["strong"], "churn", actor="bob", source="test", store=store)
    req = ops.request_promotion("churn", 1, "production", actor="bob", source="test", store=store, policy=policy())
    ops.approve(req["id"], actor="alice", source="test", store=store, policy=policy())
    swap_model(str(tmp_path / "mlplat.db"), tmp_path, {"weights": [1, 2, 3]})

    conf = {"host": "127.0.0.1", "port": 0, "alias": "production", "poll_interval_s": 0.2, "max_body_bytes": None,
            "max_rows": 100, "micro_batch_rows": 0, "slo_p99_ms": 10.0, "prediction_log": {"enabled": False},
            "batch": {"chunk_rows": 1000}}
    with Server(ops.serving_app(["churn"], store=store, serving=conf)) as server, \
            httpx.Client(base_url=server.url, timeout=10) as client:
        ready = wait_until(lambda: (lambda r: r.json() if r.status_code == 503 else None)(client.get("/readyz")))
        assert "not a scikit-learn compatible estimator" in ready["waiting"]["churn"]
        assert client.post("/v1/models/churn/predict", json={"records": [{}]}).status_code == 503

    pd.read_csv(REPO / "data" / "churn.csv").head(20).to_csv(tmp_path / "new.csv", index=False)
    bad = run_cli(["predict", "churn", "--input", "new.csv", "--output", "out.parquet"], cwd=tmp_path,
                  store_url=url, check=False)
    assert bad.returncode == 1 and "churn:1: the artifact holds a dict" in bad.stderr, bad.stderr
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert not (tmp_path / "out.parquet").exists()
