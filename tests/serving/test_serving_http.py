"""The prediction service over real HTTP on 127.0.0.1: validation, limits, metrics, the
prediction log, the hot switch under load and the refusal of a tampered artifact."""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit import Server, policy
from waiting import wait_until

from mlplat import ops
from mlplat.serving.predlog import read_prediction_log

S = "test"
ROW = {"tenure_months": 12, "monthly_charges": 70.5, "support_calls": 3, "contract": "month", "region": "north"}


def serving_conf(tmp_path, **kw) -> dict:
    return {"host": "127.0.0.1", "port": 0, "alias": "production", "poll_interval_s": 0.2, "max_body_bytes": 20000,
            "max_rows": 100, "micro_batch_rows": 2000, "slo_p99_ms": 10.0,
            "prediction_log": {"enabled": True, "dir": str(tmp_path / "predictions"), "queue_size": 100000,
                               "flush_interval_s": 0.2, "batch_rows": 5000},
            "batch": {"chunk_rows": 1000}, **kw}


def promote(store, version: int) -> None:
    req = ops.request_promotion("churn", version, "production", actor="bob", source=S, store=store,
                                policy=policy(gates={"run_completed": True, "validation_passed": True}))
    ops.approve(req["id"], actor="alice", source=S, store=store, policy=policy())


@pytest.fixture
def served(store, trained, tmp_path):
    ops.register(trained["strong"], "churn", actor="bob", source=S, store=store)
    ops.register(trained["weak"], "churn", actor="bob", source=S, store=store)
    promote(store, 1)
    app = ops.serving_app(["churn"], store=store, serving=serving_conf(tmp_path))
    with Server(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield store, client, tmp_path


def test_predict_describe_and_operational_endpoints(served):
    store, client, tmp_path = served
    r = client.post("/v1/models/churn/predict", json={"records": [ROW, {**ROW, "monthly_charges": None,
                                                                        "region": None}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["version"] == 1 and body["classes"] == [0, 1] and len(body["predictions"]) == 2
    assert all(abs(sum(p) - 1) < 1e-9 for p in body["probabilities"]) and body["request_id"]
    cols = client.post("/v1/models/churn/predict", json={"columns": {k: [v] for k, v in ROW.items()}},
                       headers={"x-request-id": "abc"})
    assert cols.status_code == 200 and cols.json()["probabilities"][0] == body["probabilities"][0]
    assert cols.json()["request_id"] == "abc"

    info = client.get("/v1/models/churn").json()
    assert info["version"] == 1 and info["signature"]["inputs"][0]["name"] == "tenure_months"
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").json()["ready"] is True
    spec = client.get("/openapi.json").json()
    assert "/v1/models/{name}/predict" in spec["paths"]
    metrics = client.get("/metrics").text
    assert 'mlplat_predict_requests_total{code="200",model="churn",version="1"} 2.0' in metrics
    assert 'mlplat_predict_latency_seconds_count{model="churn",version="1"} 2.0' in metrics

    wait_until(lambda: len(read_prediction_log("churn", root=tmp_path / "predictions")) >= 3)
    log = read_prediction_log("churn", root=tmp_path / "predictions")
    assert {"ts", "request_id", "row", "version", "latency_ms", "input.tenure_months", "prediction",
            "proba.1"} <= set(log.columns)
    assert list(log["request_id"]) == [body["request_id"], body["request_id"], "abc"]
    assert log["input.monthly_charges"].isna().tolist() == [False, True, False]
    assert read_prediction_log("churn", since=log["ts"].max() + 1, root=tmp_path / "predictions").empty


@pytest.mark.parametrize("payload, status, needle", [
    ({"records": [{k: v for k, v in ROW.items() if k != "contract"}]}, 422, "feature 'contract': missing"),
    ({"records": [{**ROW, "colour": "red"}]}, 422, "feature 'colour': unexpected"),
    ({"records": [{**ROW, "tenure_months": "ten"}]}, 422, "feature 'tenure_months': must be a whole number"),
    ({"records": [{**ROW, "tenure_months": 1.5}]}, 422, "must be a whole number"),
    ({"records": [{**ROW, "contract": 3}]}, 422, "feature 'contract': must be a string"),
    ({"records": [{**ROW, "support_calls": None}]}, 422, "null/NaN in row 0 but the model's signature does not"),
    ({"records": []}, 422, "no rows"),
    ({"records": [ROW] * 101}, 413, "more than the limit of 100"),
    ({"columns": {"tenure_months": [1, 2], "contract": ["a"]}}, 422, "same length"),
    ([1, 2], 422, 'must be {"records"'),
    ([ROW], 422, "got a JSON list"),
    ({"records": [1]}, 422, "record 0 must be an object"),
    ({"rows": [ROW]}, 422, 'must be {"records"'),
])
def test_client_mistakes_get_4xx_naming_the_problem(served, payload, status, needle):
    _, client, _ = served
    r = client.post("/v1/models/churn/predict", json=payload)
    assert r.status_code == status and needle in r.json()["detail"], r.text


def test_malformed_json_nan_oversize_and_unknown_model(served):
    _, client, _ = served
    post = client.post
    as_json = {"content-type": "application/json"}
    r = post("/v1/models/churn/predict", content=b'{"records": [', headers=as_json)
    assert r.status_code == 400 and "malformed JSON" in r.json()["detail"]
    nan = json.dumps({"records": [{**ROW, "tenure_months": float("nan")}]})
    r = post("/v1/models/churn/predict", content=nan, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "null/NaN" in r.json()["detail"]
    r = post("/v1/models/churn/predict", content=b" " * 20001, headers=as_json)
    assert r.status_code == 413 and "exceeds the limit of 20000 bytes" in r.json()["detail"]
    chunked = post("/v1/models/churn/predict", content=iter([b" " * 15000, b" " * 15000]),  # no content-length
                   headers=as_json)
    assert chunked.status_code == 413
    r = post("/v1/models/fraud/predict", json={"records": [ROW]})
    assert r.status_code == 404 and "serves churn" in r.json()["detail"]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=12)
VALUE = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | JSON
RECORD = st.fixed_dictionaries({}, optional={k: VALUE for k in [*ROW, "extra"]})


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(JSON, st.fixed_dictionaries({"records": st.lists(RECORD, max_size=3)}),
                      st.fixed_dictionaries({"columns": st.dictionaries(st.sampled_from([*ROW, "x"]),
                                                                        st.lists(VALUE, max_size=3))}),
                      st.binary(max_size=40).map(lambda b: {"raw": b})))
def test_fuzzed_bodies_never_get_5xx(served, body):
    _, client, _ = served
    as_json = {"content-type": "application/json"}
    if isinstance(body, dict) and set(body) == {"raw"}:
        r = client.post("/v1/models/churn/predict", content=body["raw"], headers=as_json)
    else:
        r = client.post("/v1/models/churn/predict", content=json.dumps(body, allow_nan=True), headers=as_json)
    assert r.status_code < 500, (body, r.text)
    assert r.status_code in (200, 400, 413, 422)


def test_hot_switch_under_load_and_tampered_artifact_refused(served):
    store, client, _ = served
    stop = threading.Event()
    seen: list[tuple[int, int | None]] = []

    def hammer() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=10) as c:
            while not stop.is_set():
                r = c.post("/v1/models/churn/predict", json={"records": [ROW]})
                seen.append((r.status_code, r.json().get("version") if r.status_code == 200 else None))

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(hammer) for _ in range(6)]
        wait_until(lambda: len(seen) > 20)
        promote(store, 2)
        wait_until(lambda: seen[-1][1] == 2, timeout=5)
        ops.rollback("churn", actor="alice", source=S, store=store, policy=policy())
        wait_until(lambda: seen[-1][1] == 1, timeout=5)
        stop.set()
        for f in futures:
            f.result()
    assert {code for code, _ in seen} == {200}, [s for s in seen if s[0] != 200][:3]
    versions = [v for _, v in seen]
    assert 1 in versions and 2 in versions and versions[-1] == 1

    # tamper with version 2's model file; promoting it must not replace the good version
    path = ops.show_model("churn:2", store=store)["model_path"]
    backup = path + ".bak"
    shutil.copyfile(path, backup)
    try:
        with open(path, "ab") as fh:
            fh.write(b"tampered")
        with store.write() as conn:  # move production to 2 directly, as a compromised path would
            from mlplat.registry import aliases

            aliases.move(conn, "churn", "production", 2, expected=1, action="promote", actor="alice", source=S)
        info = wait_until(lambda: (lambda i: i if i["load_error"] else None)(client.get("/v1/models/churn").json()))
        assert info["version"] == 1 and "was modified after it was written" in info["load_error"]
        r = client.post("/v1/models/churn/predict", json={"records": [ROW]})
        assert r.status_code == 200 and r.json()["version"] == 1
        assert 'mlplat_model_load_failures_total{model="churn"} 1.0' in client.get("/metrics").text
    finally:
        shutil.move(backup, path)
    wait_until(lambda: client.get("/v1/models/churn").json()["version"] == 2, timeout=15)


def _batched(client) -> dict[str, float]:
    out = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("mlplat_predict_batched{"):
            out[line.split('what="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
    return out


def test_concurrent_requests_are_batched_and_each_gets_its_own_prediction(served):
    """Distinct rows from 12 threads at once: each response equals the pipeline on that row alone."""
    import numpy as np
    import pandas as pd

    from mlplat.serving.holder import load_version

    store, client, _ = served
    model = load_version(store, "churn", 1).model
    rows = [{**ROW, "tenure_months": 1 + i, "monthly_charges": 20.0 + 3.5 * i, "region": ["north", "south"][i % 2]}
            for i in range(48)]

    def ask(row: dict) -> list[float]:
        with httpx.Client(base_url=str(client.base_url), timeout=10) as c:
            r = c.post("/v1/models/churn/predict", json={"records": [row]})
            assert r.status_code == 200, r.text
            return r.json()["probabilities"][0]

    for _ in range(10):  # batches form when requests overlap; retry a round if they happened not to
        with ThreadPoolExecutor(12) as pool:
            got = list(pool.map(ask, rows))
        for row, proba in zip(rows, got, strict=True):
            expected = model.predict_proba(pd.DataFrame([row]))[0]
            assert np.allclose(proba, expected, rtol=0, atol=1e-12), (row, proba, expected)
        counts = _batched(client)
        if counts["calls"] < counts["requests"]:
            break
    assert counts["calls"] < counts["requests"], counts


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonp"])
def test_a_body_that_is_not_declared_json_is_refused_with_415(served, content_type):
    _, client, _ = served
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/v1/models/churn/predict", content=json.dumps({"records": [ROW]}), headers=headers)
    assert r.status_code == 415 and "Content-Type must be application/json" in r.json()["detail"], r.text
    ok = client.post("/v1/models/churn/predict", content=json.dumps({"records": [ROW]}),
                     headers={"content-type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


@pytest.mark.parametrize("change, feature, needle", [
    ({"contract": "weekly"}, "contract", 'must be one of ["month", "year", "two_year"]'),
    ({"tenure_months": -1}, "tenure_months", "must be in [0, 120], got -1"),
    ({"monthly_charges": 1e308}, "monthly_charges", "must be in [0, 500], got 1e+308"),
    ({"region": "x" * 1000}, "region", 'must be one of ["north", "south", "east", "west"]'),
])
def test_values_the_schema_forbids_get_422_naming_the_feature_and_the_allowed_values(served, change, feature,
                                                                                    needle):
    _, client, _ = served
    r = client.post("/v1/models/churn/predict", json={"records": [ROW, {**ROW, **change}]})
    assert r.status_code == 422, r.text
    assert f"feature {feature!r}: {needle}" in r.json()["detail"] and "in row 1" in r.json()["detail"]
    assert r.json()["errors"][0]["feature"] == feature


@pytest.fixture
def open_limits(store, trained, tmp_path):
    """churn served with the shipped limits (10,000 rows, derived body limit) and policy accept."""
    ops.register(trained["strong"], "churn", actor="bob", source=S, store=store)
    promote(store, 1)
    conf = serving_conf(tmp_path, max_body_bytes=None, max_rows=10000, schema_violations_by_model={"churn": "accept"})
    with Server(ops.serving_app(["churn"], store=store, serving=conf)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_policy_accept_serves_flags_and_counts_and_max_rows_records_fit_the_body_limit(open_limits):
    client = open_limits
    rows = [{**ROW, "tenure_months": -5}, ROW, {**ROW, "contract": "weekly"}]
    r = client.post("/v1/models/churn/predict", json={"records": rows})
    assert r.status_code == 200, r.text
    flagged = {v["feature"]: (v["rows"], v["first_row"]) for v in r.json()["schema_violations"]}
    assert flagged == {"tenure_months": (1, 0), "contract": (1, 2)} and len(r.json()["predictions"]) == 3
    metrics = client.get("/metrics").text
    assert 'mlplat_predict_schema_violations_total{feature="contract",model="churn",version="1"} 1.0' in metrics
    clean = client.post("/v1/models/churn/predict", json={"records": [ROW]}).json()
    assert "schema_violations" not in clean

    info = client.get("/v1/models/churn").json()
    assert info["schema_violations"] == "accept" and info["max_rows"] == 10000
    longest = {"tenure_months": -1.2345678901234567e-300, "monthly_charges": -1.2345678901234567e-300,
               "support_calls": -1.2345678901234567e-300, "contract": "two_year", "region": "north"}
    body = json.dumps({"records": [longest] * 10000})
    assert len(body) <= info["max_body_bytes"] < 1.5 * len(body)
    big = client.post("/v1/models/churn/predict", json={"records": [ROW] * 10000})
    assert big.status_code == 200 and len(big.json()["predictions"]) == 10000, big.text[:300]
    over = client.post("/v1/models/churn/predict", json={"records": [ROW] * 10001})
    assert over.status_code == 413 and "more than the limit of 10000" in over.json()["detail"]
