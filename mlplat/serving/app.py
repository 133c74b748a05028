"""The HTTP prediction service (FastAPI): predict, describe, health, readiness, metrics.

A client's mistake never becomes a 5xx: malformed JSON is 400, a body or row count over
the limit 413, a Content-Type other than application/json 415, anything that does not
fit the signature 422 naming the feature, an unknown model 404. A value of the right type
that the schema forbids (outside the declared allowed set or range, an over-long string)
is refused with 422 too, or, for a model whose policy is ``accept``
(serving.schema_violations_by_model), served with the violations listed in the answer and
counted in /metrics. 503 means the service has no version to serve yet. The predict
handler parses the body itself (not through a pydantic model) so the error names the
feature and the hot path stays short; the OpenAPI document still describes the body.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from mlplat.errors import ServingError
from mlplat.serving import signature as sig
from mlplat.serving.batching import MicroBatcher
from mlplat.serving.holder import Holder, Poller
from mlplat.serving.predlog import PredictionLog

log = logging.getLogger("mlplat.serving")
LATENCY_BUCKETS = (.0005, .001, .002, .003, .005, .0075, .01, .015, .025, .05, .1, .25, .5, 1.0, 2.5)


class Metrics:
    """Prometheus series on a registry of their own, so several apps can live in one process (tests).

    With several service workers (PROMETHEUS_MULTIPROC_DIR set before prometheus_client is
    imported, see mlplat/serving/workers.py) every process writes its values to that folder
    and ``exposition`` sums counters and histograms over all of them; the gauges say how:
    the served version per live worker (``pid`` label), dropped rows and batching summed.
    """
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("mlplat_predict_requests_total", "prediction requests by outcome",
                                ["model", "version", "code"], registry=self.registry)
        self.rows = Counter("mlplat_predict_rows_total", "rows predicted", ["model", "version"], registry=self.registry)
        self.latency = Histogram("mlplat_predict_latency_seconds", "prediction request latency",
                                 ["model", "version"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.load_failures = Counter("mlplat_model_load_failures_total", "versions refused at load (integrity, IO)",
                                     ["model"], registry=self.registry)
        self.served = Gauge("mlplat_served_version", "version currently served", ["model"], registry=self.registry,
                            multiprocess_mode="liveall")
        self.log_dropped = Gauge("mlplat_prediction_log_dropped_rows", "rows the prediction log had to drop",
                                 registry=self.registry, multiprocess_mode="sum")
        self.violations = Counter("mlplat_predict_schema_violations_total",
                                  "rows served although the schema forbids a value (policy accept), by feature",
                                  ["model", "version", "feature"], registry=self.registry)
        self.batched = Gauge("mlplat_predict_batched", "micro-batching: requests predicted and model calls made",
                             ["what"], registry=self.registry, multiprocess_mode="sum")

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status)


def _body_schema() -> dict[str, Any]:
    record = {"type": "object", "additionalProperties": {"type": ["number", "string", "boolean", "null"]}}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"type": "object", "required": ["records"], "properties": {"records": {"type": "array", "items": record}}},
        {"type": "object", "required": ["columns"], "properties": {"columns": {
            "type": "object", "additionalProperties": {"type": "array"}}}},
    ]}}}}}


POLICIES = ("reject", "accept")


def check_policies(default: str, by_model: dict[str, str] | None) -> dict[str, str]:
    """serving.schema_violations and its per-model overrides, checked (one line naming the bad key)."""
    for key, value in [("schema_violations", default),
                       *((f"schema_violations_by_model.{k}", v) for k, v in (by_model or {}).items())]:
        if value not in POLICIES:
            raise ServingError(f"serving.{key}={value!r}: expected one of {', '.join(POLICIES)}")
    return dict(by_model or {})


def create_app(store, names: list[str], *, alias: str = "production", poll_interval_s: float = 1.0,
               max_body_bytes: int | None = None, max_rows: int = 10000, prediction_log: PredictionLog | None = None,
               micro_batch_rows: int = 0, max_string_chars: int = sig.DEFAULT_MAX_STRING_CHARS,
               max_abs_value: float = sig.DEFAULT_MAX_ABS_VALUE, schema_violations: str = "reject",
               schema_violations_by_model: dict[str, str] | None = None) -> FastAPI:
    """An app serving ``names`` at ``alias`` from ``store``; background work starts with the app.

    ``micro_batch_rows`` > 0 predicts requests that wait together in one call (serving/batching.py).
    ``max_body_bytes`` None derives each model's body limit from ``max_rows`` and its signature
    (``Spec.body_limit``), so ``max_rows`` records always fit.
    """
    if micro_batch_rows < 0:
        raise ServingError(f"serving.micro_batch_rows must be >= 0 (0 turns micro-batching off), got {micro_batch_rows}")
    by_model = check_policies(schema_violations, schema_violations_by_model)
    metrics = Metrics()
    batcher = MicroBatcher(micro_batch_rows) if micro_batch_rows else None
    limits = {"max_string_chars": max_string_chars, "max_abs_value": max_abs_value}
    holders = {n: Holder(store, n, alias, on_load_failure=lambda m: metrics.load_failures.labels(m).inc(),
                         retry_failed_s=max(10 * poll_interval_s, 1.0), limits=limits) for n in names}
    accept = {n: by_model.get(n, schema_violations) == "accept" for n in names}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        for h in holders.values():
            h.refresh()
        # everything imported and loaded so far lives as long as the process: keep the cyclic
        # GC from re-scanning it (a full collection of pandas + scikit-learn + the models is a
        # 50-150 ms pause in the middle of some request)
        gc.freeze()
        poller = Poller(list(holders.values()), poll_interval_s)
        poller.start()
        if prediction_log is not None:
            prediction_log.start()
        # with several workers a scrape reaches one of them: each keeps its own gauges current
        gauges_stop = threading.Event()

        def keep_gauges_current() -> None:
            while not gauges_stop.wait(poll_interval_s):
                update_gauges()

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            update_gauges()
            threading.Thread(target=keep_gauges_current, name="mlplat-gauges", daemon=True).start()
        try:
            yield
        finally:
            gauges_stop.set()
            poller.stop()
            if prediction_log is not None:
                prediction_log.stop()
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                multiprocess.mark_process_dead(os.getpid())

    app = FastAPI(title="mlplat prediction service", version="1", lifespan=lifespan,
                  description=f"Serves {', '.join(names)} at alias {alias!r}; the version follows the alias.")
    app.state.holders = holders
    app.state.metrics = metrics
    app.state.prediction_log = prediction_log
    app.state.batcher = batcher

    @app.get("/healthz", summary="the process is up")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="every model has a loaded version")
    def readyz() -> JSONResponse:
        missing = {n: h.error or "not loaded" for n, h in holders.items() if h.current is None}
        return JSONResponse({"ready": not missing, "waiting": missing}, status_code=503 if missing else 200)

    def update_gauges() -> None:
        for n, h in holders.items():
            if h.current is not None:
                metrics.served.labels(n).set(h.current.version)
        if prediction_log is not None:
            metrics.log_dropped.set(prediction_log.dropped)
        if batcher is not None:
            metrics.batched.labels("requests").set(batcher.requests)
            metrics.batched.labels("calls").set(batcher.batches)

    @app.get("/metrics", summary="Prometheus metrics")
    def prom() -> Response:
        update_gauges()
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", summary="the models this service serves")
    def list_served() -> dict[str, Any]:
        return {"models": [_describe(h) for h in holders.values()]}

    @app.get("/v1/models/{name}", summary="served version and its signature")
    def describe(name: str) -> JSONResponse:
        h = holders.get(name)
        if h is None:
            return _unknown(name, holders)
        return JSONResponse(_describe(h))

    @app.post("/v1/models/{name}/predict", summary="predict rows (records or columns)",
              openapi_extra=_body_schema())
    async def predict(name: str, request: Request) -> Response:
        t0 = time.perf_counter()
        h = holders.get(name)
        if h is None:
            return _unknown(name, holders)
        loaded = h.current  # read once: a switch during this request does not affect it
        if loaded is None:
            return _error(503, f"{name}@{alias} has no loaded version yet: {h.error or 'loading'}")
        version = str(loaded.version)
        media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return _count(metrics, name, version, _error(
                415, f"Content-Type must be application/json, got {media or '(none)'!r}; send the body as JSON"))
        limit = max_body_bytes or loaded.spec.body_limit(max_rows)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return _count(metrics, name, version, _error(413, f"body of {declared} bytes exceeds the limit of "
                                                              f"{limit} bytes; split the request"))
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _count(metrics, name, version, _error(
                    413, f"body exceeds the limit of {limit} bytes; split the request"))
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as exc:
            return _count(metrics, name, version, _error(400, f"malformed JSON body: {exc}"))
        try:
            cols = sig.columns_from_body(payload, loaded.spec, max_rows)
            checked = sig.check_columns(cols, loaded.spec)
            if checked.violations and not accept[name]:
                sig.refuse_violations(checked.violations)
            X = checked.rows
        except sig.TooManyRows as exc:
            return _count(metrics, name, version, _error(413, str(exc)))
        except sig.SignatureMismatch as exc:
            return _count(metrics, name, version, _error(422, str(exc), errors=exc.problems))
        except ServingError as exc:
            return _count(metrics, name, version, _error(422, str(exc)))
        try:
            preds, proba = await batcher.predict(loaded, X) if batcher else loaded.predict(X)
        except (ValueError, TypeError) as exc:  # e.g. an unseen category the pipeline refuses
            return _count(metrics, name, version, _error(422, f"the model could not score this input: "
                                                              f"{str(exc).splitlines()[0][:300]}"))
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        out: dict[str, Any] = {"model": name, "version": loaded.version, "request_id": request_id,
                               "predictions": preds}
        if proba is not None:
            out["classes"] = loaded.classes
            out["probabilities"] = proba
        if checked.violations:  # policy accept: served, and said so
            out["schema_violations"] = checked.violations
            for v in checked.violations:
                metrics.violations.labels(name, version, v["feature"]).inc(v["rows"])
        latency = time.perf_counter() - t0
        metrics.latency.labels(name, version).observe(latency)
        metrics.rows.labels(name, version).inc(len(X))
        if prediction_log is not None:
            prediction_log.append(ts=time.time(), request_id=request_id, model=name, version=loaded.version,
                                  latency_ms=latency * 1000, inputs={n: cols[n] for n in loaded.spec.names},
                                  predictions=preds, proba=proba,
                                  classes=loaded.classes)
        return _count(metrics, name, version, Response(json.dumps(out), media_type="application/json"))

    def _describe(h: Holder) -> dict[str, Any]:
        cur = h.current
        return {"name": h.name, "alias": h.alias, "version": cur.version if cur else None,
                "run_id": cur.run_id if cur else None, "sha256": cur.sha256 if cur else None,
                "loaded_at": cur.loaded_at if cur else None, "load_error": h.error,
                "compiled": cur.fast is not None if cur else None,
                "signature": cur.signature if cur else None,
                "input_schema": cur.spec.json_schema() if cur else None,
                "max_body_bytes": (max_body_bytes or cur.spec.body_limit(max_rows)) if cur else None,
                "max_rows": max_rows, "schema_violations": "accept" if accept[h.name] else "reject"}

    return app


def _unknown(name: str, holders: dict[str, Holder]) -> JSONResponse:
    return _error(404, f"model {name!r} is not served here; this service serves {', '.join(sorted(holders))}")


def _count(metrics: Metrics, name: str, version: str, response: Response) -> Response:
    metrics.requests.labels(name, version, str(response.status_code)).inc()
    return response
