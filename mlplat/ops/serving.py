"""Operations of the serving layer: run the prediction service, predict files, read the prediction log.

``serving`` defaults to the composed ``serving`` config group, ``store`` to the
configured store. The served version always follows an alias, so what is served is
decided by the registry's (approval-gated) operations, not here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlplat.config.compose import config_dirs, resolve_paths
from mlplat.errors import ServingError
from mlplat.extras import require
from mlplat.ops.common import compose_plain, open_store
from mlplat.registry import versions
from mlplat.serving.batch import check_output, open_input, predict_file
from mlplat.serving.predlog import PredictionLog
from mlplat.serving.predlog import read_prediction_log as read
from mlplat.serving.signature import DEFAULT_MAX_ABS_VALUE, DEFAULT_MAX_STRING_CHARS, Spec
from mlplat.serving.workers import MULTIPROC_ENV, SPEC_ENV, WorkerHeader, prepare_metrics_dir
from mlplat.tracking import audit
from mlplat.tracking.defaults import default_group


def _serving(serving: dict | None) -> dict:
    """The serving config: read from its file when that is certain to equal the composed node
    (tracking.defaults.default_group), else composed."""
    if serving is not None:
        return serving
    cheap = default_group(config_dirs(), "serving")
    return resolve_paths({"serving": cheap})["serving"] if cheap is not None else compose_plain([])["serving"]


def _store(store):
    return store or open_store()


def serving_app(names: list[str], *, alias: str | None = None, store=None, serving: dict | None = None):
    """The FastAPI app for ``names`` (checked to be registered); run it with any ASGI server."""
    require("serve", "the prediction service")
    # here, not at the top: FastAPI is the optional `serve` extra, and `mlplat predict`
    # (batch, this module too) must work without it
    from mlplat.serving.app import create_app

    serving, store = _serving(serving), _store(store)
    with store.read() as conn:
        for n in names:
            versions.resolve(conn, versions.Ref(versions.check_name(n)))
    plog = serving.get("prediction_log") or {}
    log = PredictionLog(plog["dir"], queue_size=int(plog["queue_size"]), flush_interval_s=float(plog["flush_interval_s"]),
                        batch_rows=int(plog["batch_rows"]), storage_options=plog.get("storage_options") or None) \
        if plog.get("enabled", True) else None
    body = serving.get("max_body_bytes")
    return create_app(store, list(names), alias=alias or serving["alias"], poll_interval_s=float(serving["poll_interval_s"]),
                      max_body_bytes=None if body is None else int(body), max_rows=int(serving["max_rows"]),
                      micro_batch_rows=int(serving["micro_batch_rows"]), prediction_log=log, **_limits(serving),
                      schema_violations=serving.get("schema_violations", "reject"),
                      schema_violations_by_model=dict(serving.get("schema_violations_by_model") or {}))


def _limits(serving: dict) -> dict[str, Any]:
    return {"max_string_chars": int(serving.get("max_string_chars", DEFAULT_MAX_STRING_CHARS)),
            "max_abs_value": float(serving.get("max_abs_value", DEFAULT_MAX_ABS_VALUE))}


def _accepts(serving: dict, name: str) -> bool:
    default = serving.get("schema_violations", "reject")
    by_model = serving.get("schema_violations_by_model") or {}
    for key, value in [("schema_violations", default), *((f"schema_violations_by_model.{k}", v)
                                                         for k, v in by_model.items())]:
        if value not in ("reject", "accept"):
            raise ServingError(f"serving.{key}={value!r}: expected one of reject, accept")
    return by_model.get(name, default) == "accept"


def serve(names: list[str], *, actor: str, source: str, alias: str | None = None, host: str | None = None,
          port: int | None = None, workers: int | None = None, store=None, serving: dict | None = None) -> dict[str, Any]:
    """Serve ``names`` over HTTP until interrupted (blocks); the start is audited.

    ``workers`` > 1 (default serving.workers) runs that many processes behind the one port
    (mlplat/serving/workers.py): each follows the alias and logs its own predictions, and
    ``/metrics`` sums all of them.
    """
    require("serve", "`mlplat serve`")
    import uvicorn  # the optional `serve` extra (see serving_app)

    serving, store = _serving(serving), _store(store)
    workers = int(workers if workers is not None else serving.get("workers") or 1)
    if workers < 1:
        raise ServingError(f"--workers {workers}: use 1 or more service processes")
    host, port = host or serving["host"], int(port if port is not None else serving["port"])
    alias = alias or serving["alias"]
    if workers == 1:
        app = serving_app(names, alias=alias, store=store, serving=serving)
    else:
        with store.read() as conn:  # a wrong name fails here, once, before any worker starts
            for n in names:
                versions.resolve(conn, versions.Ref(versions.check_name(n)))
        if port == 0:
            raise ServingError("--workers needs a fixed --port (its metrics folder is named after it)")
        metrics_dir = prepare_metrics_dir(Path(serving.get("metrics_dir") or "runs/serving/metrics") / str(port))
        # the workers are new processes (spawned): they read their job from the environment they inherit
        os.environ[MULTIPROC_ENV] = str(metrics_dir)
        os.environ[SPEC_ENV] = json.dumps({"names": list(names), "alias": alias, "serving": serving,
                                           "store_url": store.url, "artifacts": str(store.artifact_root)})
    with store.write() as conn:
        for n in names:
            audit.append(conn, actor=actor, source=source, action="serve.start", object_type="alias",
                         object_id=f"{n}@{alias}", payload={"host": host, "port": port, "workers": workers})
    if workers == 1:
        uvicorn.run(app, host=host, port=port, workers=1, log_level="warning", access_log=False)
    else:
        uvicorn.run("mlplat.ops.serving:worker_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", access_log=False)
    return {"models": names, "alias": alias, "host": host, "port": port, "workers": workers}


def worker_app():
    """One service worker's app, built from the spec ``serve`` left in the environment (uvicorn's factory)."""
    from mlplat.tracking.store import Store  # SQLAlchemy, as in ops.common.open_store (deferred there too)

    spec = json.loads(os.environ[SPEC_ENV])
    store = Store.open(spec["store_url"], spec["artifacts"], migrate=False)
    app = serving_app(spec["names"], alias=spec["alias"], store=store, serving=spec["serving"])
    app.add_middleware(WorkerHeader)
    return app


def predict_batch(ref: str, input_path: str, output_path: str, *, actor: str, source: str,
                  chunk_rows: int | None = None, store=None, serving: dict | None = None) -> dict[str, Any]:
    """Score a CSV/Parquet file with ``ref`` (``name`` = its production alias, ``name@alias`` or ``name:3``)."""
    serving, store = _serving(serving), _store(store)
    r = versions.parse_ref(ref)
    if r.version is None and r.alias is None:
        r = versions.Ref(r.name, alias=serving["alias"])
    with store.read() as conn:
        row = versions.resolve(conn, r)
    version, accept, limits = row["version"], _accepts(serving, r.name), _limits(serving)
    rows = int(chunk_rows or serving["batch"]["chunk_rows"])
    check_output(output_path)
    # the file is read from here on, while the model loads: scikit-learn's import and the
    # unpickling took 1.2 s of a 1M-row run's 5 s (benchmarks/batch_predict), so the holder
    # is imported only now, after the reader has started
    tables = open_input(input_path, Spec.from_signature(row["signature"], **limits), rows)
    try:
        from mlplat.serving.holder import load_version

        loaded = load_version(store, r.name, version, **limits)
    except BaseException:
        tables.close()
        raise
    result = predict_file(loaded, input_path, output_path, chunk_rows=rows, accept_violations=accept, tables=tables)
    result.update(model=r.name, version=version)
    with store.write() as conn:
        audit.append(conn, actor=actor, source=source, action="predict.batch", object_type="model",
                     object_id=f"{r.name}:{version}", payload={"input": str(input_path), "output": str(output_path),
                                                               "rows": result["rows"]})
    return result


def read_prediction_log(name: str, since: float | None = None, *, root: str | None = None):
    """Logged predictions of ``name`` (pandas DataFrame, see mlplat.serving.predlog for the columns);
    ``root`` defaults to serving.prediction_log.dir of the config."""
    if root is None:
        root = _serving(None)["prediction_log"]["dir"]
    return read(name, since, root=root)


__all__ = ["serving_app", "serve", "predict_batch", "read_prediction_log"]
