"""Monitoring the live service: predictions over real HTTP on 127.0.0.1 land in the prediction log,
then `mlplat monitor drift --since`, `latency` and `performance` (labels joined by request id) read it."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from monitor_kit import FEATURES, drifted, fresh_project, train_and_register

from mlplat import ops
from mlplat.serving.predlog import wait_for_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "registry"))
from kit import Server, policy  # noqa: E402

N = 60


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    return train_and_register(tmp_path_factory.getbasetemp() / "monitor_churn")


def _record(row) -> dict:
    return {k: (None if isinstance(v, float) and np.isnan(v) else v.item() if hasattr(v, "item") else v)
            for k, v in row.items()}


def test_drift_latency_and_performance_from_the_live_prediction_log(tmp_path, trained):
    project = fresh_project(tmp_path, trained)
    store = project.store()
    req = ops.request_promotion("churn", 1, "production", actor="bob", source="test", store=store,
                                policy=policy(gates={"run_completed": True, "validation_passed": True}))
    ops.approve(req["id"], actor="alice", source="test", store=store, policy=policy())
    log_dir = tmp_path / "runs" / "predictions"  # the default serving.prediction_log.dir, seen from the CLI's cwd
    serving = {"host": "127.0.0.1", "port": 0, "alias": "production", "poll_interval_s": 0.2,
               "max_body_bytes": 100000, "max_rows": 100, "micro_batch_rows": 2000, "slo_p99_ms": 10.0,
               "prediction_log": {"enabled": True, "dir": str(log_dir), "queue_size": 100000,
                                  "flush_interval_s": 0.1, "batch_rows": 5000}, "batch": {"chunk_rows": 1000},
               "schema_violations_by_model": {"churn": "accept"}}
    # the live traffic has drifted inputs (contract's new category and out-of-range numbers
    # violate the declared schema: served and flagged under the accept policy, so monitoring
    # sees them), one request per row so each label joins by request id
    batch = drifted(seed=5, n=N)
    app = ops.serving_app(["churn"], store=store, serving=serving)
    with Server(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        for i, row in batch.iterrows():
            r = client.post("/v1/models/churn/predict", json={"records": [_record(row[FEATURES])]},
                            headers={"x-request-id": f"req-{i}"})
            assert r.status_code == 200, r.text
        log = wait_for_rows("churn", N, root=log_dir)
    assert len(log) == N

    drift = project.json("monitor", "drift", "churn", "--since", "1h")
    assert drift["ref"] == "churn:1" and drift["input"] == "prediction log" and drift["n_rows"] == N
    assert drift["status"] == "drift" and drift["features"]["monthly_charges"]["status"] == "drift"
    assert drift["features"]["contract"]["unseen_categories"] == ["monthly_plus"]
    assert drift["predictions"]["prediction"]["status"] in ("drift", "warn")  # proba.1 of the log vs training

    lat = project.json("monitor", "latency", "churn", "--since", "1h", "--set", "monitor.latency.slo.p99_ms=0.001",
                       "--set", "monitor.latency.slo.p95_ms=100000")
    assert lat["n_requests"] == N and lat["versions"] == [1]
    per_request = log.drop_duplicates("request_id")["latency_ms"]
    assert lat["percentiles"]["p99_ms"]["value"] == pytest.approx(float(np.percentile(per_request, 99)))
    assert lat["percentiles"]["p99_ms"]["status"] == "breach" and lat["status"] == "breach"
    assert lat["alert"]["sent"] and lat["alert"]["new"] == ["p99_ms"]

    labels = batch.assign(request_id=[f"req-{i}" for i in range(N)])[["request_id", "churned"]]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    perf = project.json("monitor", "performance", "churn", "--labels", "labels.csv")
    assert perf["n_rows"] == N and perf["input"] == "prediction log + labels.csv"
    from sklearn.metrics import accuracy_score

    served = log.set_index("request_id").loc[labels["request_id"], "prediction"].to_numpy()
    assert perf["metrics"]["accuracy"]["current"] == pytest.approx(accuracy_score(labels["churned"], served))

    p = project.mlplat("monitor", "drift", "churn", "--since", "1h", "--set", "serving.prediction_log.dir=elsewhere")
    assert p.returncode == 1 and "no predictions of churn:1 were logged in the window" in p.stderr
    assert "Traceback" not in p.stderr
