"""Hand-written code beside a maintained library: the figures docs/architecture.md quotes.

    .venv/bin/python benchmarks/library_choices/run.py

Four comparisons, each the median of several runs on this machine:
  1. the cross-validation loop (mlplat.evaluation.cv) vs sklearn.model_selection.cross_validate
     with the same folds and scorers;
  2. the sweep picture (mlplat.reports.charts.sweep_png, one PNG) vs optuna.visualization.matplotlib
     (history, importances, slice, parallel coordinates) on the same 30-trial study;
  3. request validation (mlplat.serving.signature) vs a pydantic model generated from the
     signature, 1 row and 1,000 rows of 20 features;
  4. one heartbeat (mlplat.heartbeat.Heartbeat.beat) vs Optuna's RDBStorage.record_heartbeat,
     both on SQLite.
The last line is the ratio of the CV loop's time to cross_validate's.
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def cv_loop() -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlplat.evaluation import cv
    from mlplat.evaluation.metrics import metrics_for

    df = pd.read_csv(REPO / "data" / "churn.csv").dropna()
    X = pd.get_dummies(df.drop(columns=["churned", "customer_id"]), dtype=float)
    y = df["churned"]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    metrics = metrics_for("classification", ["roc_auc", "accuracy", "f1", "log_loss"], "roc_auc")
    labels = np.sort(y.unique())
    ours = median_ms(lambda: cv.cross_validate(pipe, X, y, folds, metrics, labels), 5)
    scoring = {"roc_auc": "roc_auc", "accuracy": "accuracy", "f1": "f1", "log_loss": "neg_log_loss"}
    theirs = median_ms(lambda: cross_validate(pipe, X, y, cv=folds, scoring=scoring), 5)
    return ours, theirs


def sweep_pictures() -> tuple[float, float]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    from mlplat.reports import charts

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(lambda t: -(t.suggest_float("lr", 1e-3, 1, log=True) - 0.1) ** 2 - 0.01 * t.suggest_int("depth", 2, 9)
                   + 0.001 * len(t.suggest_categorical("kind", ["a", "bb", "ccc"])), n_trials=30)
    trials = [{"id": f"r{t.number}", "job_num": t.number, "status": "done", "primary_value": t.value,
               "params": dict(t.params)} for t in study.trials]
    data = {"sweep": {"id": "s1", "status": "done"}, "trials": trials, "keys": ["lr", "depth", "kind"],
            "metric": "roc_auc", "direction": "maximize",
            "importances": dict(optuna.importance.get_param_importances(study))}
    ours = median_ms(lambda: charts.sweep_png(data), 3)

    def optuna_pngs() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # optuna.visualization.matplotlib is experimental
            for plot in (ovm.plot_optimization_history, ovm.plot_param_importances, ovm.plot_slice,
                         ovm.plot_parallel_coordinate):
                ax = plot(study)
                fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
                fig.savefig(io.BytesIO(), format="png", dpi=110, bbox_inches="tight")
                plt.close(fig)

    theirs = median_ms(optuna_pngs, 3)
    return ours, theirs


def request_validation() -> dict[str, tuple[float, float]]:
    from pydantic import StrictBool, StrictFloat, StrictInt, StrictStr, TypeAdapter, create_model

    from mlplat.serving import signature as sig

    kinds = ["float64"] * 12 + ["int64"] * 4 + ["object"] * 3 + ["bool"]
    signature = {"inputs": [{"name": f"f{i}", "dtype": d, "nullable": i % 5 == 0} for i, d in enumerate(kinds)]}
    spec = sig.Spec.from_signature(signature)
    pyd = {"number": StrictFloat | StrictInt, "integer": StrictInt, "boolean": StrictBool, "string": StrictStr}
    fields = {f.name: ((pyd[f.kind] | None) if f.nullable else pyd[f.kind], ...) for f in spec.features}
    Row = create_model("Row", __config__={"extra": "forbid"}, **fields)
    adapter = TypeAdapter(list[Row])
    value = {"number": 1.5, "integer": 3, "boolean": True, "string": "x"}
    record = {f.name: value[f.kind] for f in spec.features}
    out = {}
    for n in (1, 1000):
        body = {"records": [dict(record) for _ in range(n)]}

        def ours(body: dict = body) -> None:
            sig.frame(sig.columns_from_body(body, spec, 10_000), spec)

        def theirs(body: dict = body) -> None:
            rows = adapter.validate_python(body["records"])
            pd.DataFrame([r.model_dump() for r in rows])

        reps = 300 if n == 1 else 30
        out[f"{n} row(s)"] = (median_ms(ours, reps), median_ms(theirs, reps))
    return out


def heartbeat() -> tuple[float, float]:
    import optuna

    from mlplat.heartbeat import Heartbeat
    from mlplat.tracking.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/hb.db"
        store = Store.open(url, f"{tmp}/art")
        beat = Heartbeat(store, "inv1", every_s=60)
        ours = median_ms(beat.beat, 50)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=60)
        study = optuna.create_study(storage=storage)
        trial = study.ask()
        theirs = median_ms(lambda: storage.record_heartbeat(trial._trial_id), 50)
    return ours, theirs


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    hb = heartbeat()
    print(f"heartbeat: mlplat beat {hb[0]:.2f} ms, optuna record_heartbeat {hb[1]:.2f} ms (SQLite, median of 50)")
    for name, (ours, theirs) in request_validation().items():
        print(f"request validation, {name} x 20 features: mlplat.serving.signature {ours:.3f} ms, "
              f"pydantic model from the signature {theirs:.3f} ms (x{theirs / ours:.1f})")
    ours, theirs = sweep_pictures()
    print(f"sweep picture, 30 trials: mlplat sweep_png (one PNG) {ours:.0f} ms, optuna.visualization.matplotlib "
          f"4 PNGs {theirs:.0f} ms")
    ours, theirs = cv_loop()
    print(f"5-fold CV, churn logreg, 4 metrics: mlplat loop {ours:.0f} ms, sklearn cross_validate {theirs:.0f} ms")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"cv loop / cross_validate: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
