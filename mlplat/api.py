"""mlplat from Python (a notebook, a script): the operations the CLI runs, as functions.

Each function is a thin call to ``mlplat.ops`` (the same checks, store and rules as the
command line) that returns plain data, with listings as pandas DataFrames::

    import mlplat
    run = mlplat.train(["dataset=customers", "model=xgboost"])        # one run: its id, metrics, artifacts
    board = mlplat.leaderboard(metric="roc_auc", dataset="customers")  # a DataFrame
    model = mlplat.load_model("customers@production")                  # the fitted pipeline, sha256-checked
    mlplat.predict("customers@production", frame)                      # checked against the signature
    run = mlplat.log_run(model=pipe, X=X_train, y=y_train, X_test=X_test, y_test=y_test,
                         params={...}, dataset="customers", name="my-notebook-model")
    mlplat.register(run["id"], "customers")

Configs, the store and relative paths come from the project the working directory is in,
as for the CLI. ``store`` (a URL) picks another store, like ``--store``. The actor is the
OS user (or MLPLAT_ACTOR), the source ``api``.
"""

from __future__ import annotations

import uuid
from typing import Any

from mlplat.errors import ConfigError

SOURCE = "api"


def _actor() -> str:
    from mlplat.ops.common import actor_from_env

    return actor_from_env()


def _store(url: str | None):
    from mlplat import ops

    return ops.open_store(url=url) if url else None


def _since(since: str | float | None) -> float | None:
    import time

    from mlplat.durations import seconds

    if since is None:
        return None
    value = float(since) if isinstance(since, int | float) else seconds(since)
    if value is None:
        raise ConfigError(f"since={since!r}: use seconds or a duration such as 90s, 30m, 24h, 7d, 2w")
    return time.time() - value


def _filters(**named: str | None) -> dict[str, str | None]:
    return {("sweep_id" if k == "sweep" else k): v for k, v in named.items()}


def train(overrides: list[str] | None = None) -> dict[str, Any]:
    """Run one experiment, as `mlplat train OVERRIDES` would, and return the recorded run.

    Raises the run's one-line error (an ``MlplatError``) when it fails; the failed run is
    recorded all the same. Sweeps (``-m``, ``a,b`` values) are the command line's job.
    """
    from mlplat import ops
    from mlplat.engine import RunContext
    from mlplat.heartbeat import Heartbeat

    overrides = [str(o) for o in (overrides or [])]
    # a sweep value (a,b; range(); interval()) is refused here as by every door (ops.check_train_overrides)
    plain = ops.check_train_overrides(overrides)
    invocation = uuid.uuid4().hex[:16]
    ctx = RunContext(actor=_actor(), source=SOURCE, overrides=overrides, invocation_id=invocation)
    store = ops.open_store(plain["tracking"])
    with Heartbeat(store, invocation):
        outcome = ops.run_experiment(plain, ctx)
    return ops.show_run(outcome.run_id, store=store)


def leaderboard(metric: str | None = None, *, stage: str = "cv", top: int = 10, dataset: str | None = None,
                model: str | None = None, experiment: str | None = None, sweep: str | None = None,
                since: str | float | None = None, store: str | None = None):
    """Finished runs ranked by ``metric`` (default roc_auc), best first, as a DataFrame
    (one row per run: rank, id, experiment, dataset, model, value, std, ...)."""
    import pandas as pd

    from mlplat import ops

    board = ops.leaderboard(metric=metric, stage=stage, top=top, since=_since(since),
                            filters={**_filters(dataset=dataset, model=model, experiment=experiment, sweep=sweep),
                                     "status": "done"},
                            store=_store(store))
    frame = pd.DataFrame(board["rows"])
    frame.attrs.update(metric=board["metric"], direction=board["direction"])
    return frame


def runs(*, status: str | None = None, dataset: str | None = None, model: str | None = None,
         experiment: str | None = None, sweep: str | None = None, since: str | float | None = None,
         limit: int = 20, store: str | None = None):
    """The ``limit`` newest runs (any status unless ``status`` is given) as a DataFrame."""
    import pandas as pd

    from mlplat import ops

    rows = ops.list_runs(filters={**_filters(dataset=dataset, model=model, experiment=experiment, sweep=sweep),
                                  "status": status},
                         since=_since(since), page=1, page_size=limit, store=_store(store))
    return pd.DataFrame(rows)


def load_model(ref: str, *, store: str | None = None) -> Any:
    """The fitted pipeline of ``name@alias``, ``name:version`` or ``name`` (latest version),
    its sha256 checked against the registry before it is unpickled."""
    from mlplat import ops

    return ops.load_model(ref, store=_store(store))


def predict(ref: str, X, *, store: str | None = None):
    """Predictions of a registered version for the DataFrame ``X``: a ``prediction`` column in
    the original labels, plus ``proba.<class>`` columns for a classifier."""
    from mlplat import ops

    return ops.predict_frame(ref, X, store=_store(store))


def log_run(model: Any, *, X, y=None, X_test=None, y_test=None, params: dict | None = None,
            metrics: dict[str, float] | None = None, dataset: str, name: str, task: str | None = None,
            experiment: str | None = None, primary: str | None = None, tags: dict[str, str] | None = None,
            store: str | None = None) -> dict[str, Any]:
    """Record a model fitted in your own code as a run (see mlplat.ops.models.log_run): it
    then ranks on the leaderboard and can be registered, promoted, served and monitored."""
    from mlplat import ops

    return ops.log_run(model, X=X, y=y, X_test=X_test, y_test=y_test, params=params, metrics=metrics,
                       dataset=dataset, name=name, task=task, experiment=experiment, primary=primary, tags=tags,
                       actor=_actor(), source=SOURCE, store=_store(store))


def register(run_id: str, name: str, *, description: str | None = None, tags: dict[str, str] | None = None,
             store: str | None = None) -> dict[str, Any]:
    """Register a finished run as the next version of ``name`` (promotion still needs its gates
    and approvals: `mlplat models promote`)."""
    from mlplat import ops

    return ops.register(run_id, name, actor=_actor(), source=SOURCE, description=description, tags=tags,
                        store=_store(store))


__all__ = ["train", "leaderboard", "runs", "load_model", "predict", "log_run", "register"]
