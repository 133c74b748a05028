"""Building runs for tests through the store's own API."""

from __future__ import annotations

import random

from mlplat.tracking import runs


def start(run_id: str, *, dataset: str = "iris", model: str = "knn", experiment: str = "exp",
          sweep_id: str | None = None, job_num: int | None = None) -> runs.RunStart:
    return runs.RunStart(
        id=run_id, experiment=experiment, actor="tester", source="test", config={"seed": 1}, overrides=[],
        config_hash="h" * 64, code_version="abc", code_dirty=False, package_versions={}, dataset=dataset,
        model=model, features="standard", task="classification", primary_metric="roc_auc", sweep_id=sweep_id,
        job_num=job_num, tags={"team": "t"}, params={"C": 1.0})


def result(metrics: dict[str, float], *, fingerprint: str = "f0", artifacts: list | None = None) -> runs.RunResult:
    return runs.RunResult(cv={k: (v, 0.01) for k, v in metrics.items()}, folds=[], holdout={k: v for k, v in metrics.items()},
                          primary_value=metrics.get("roc_auc"), fit_time_s=0.1, duration_s=0.2,
                          dataset_fingerprint=fingerprint, artifact_dir="", artifacts=artifacts or [])


def record(run_id: str, metrics: dict[str, float], *, started_at: float, **kw) -> runs.RunRecord:
    fingerprint = kw.pop("fingerprint", "f0")
    artifacts = kw.pop("artifacts", None)
    return runs.RunRecord(start=start(run_id, **kw), result=result(metrics, fingerprint=fingerprint,
                                                                    artifacts=artifacts),
                          started_at=started_at, ended_at=started_at + 1)


T0 = 1_700_000_000.0
DATASETS = ["iris", "wage", "adult"]
MODELS = ["knn", "logreg"]


def population(n: int = 90) -> list[dict]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        out.append({
            "id": f"run{i:04d}", "dataset": DATASETS[i % 3], "model": MODELS[i % 2],
            "sweep_id": f"sw{i % 4}", "job_num": i // 4, "experiment": "a" if i < 45 else "b",
            # few distinct values: many ties; every 5th pair shares a start time to test the id tie-break
            "roc_auc": rng.choice([0.7, 0.8, 0.85, 0.9]), "log_loss": rng.choice([0.2, 0.3, 0.4]),
            "started_at": T0 + (i - i % 2) * 10.0,
        })
    return out
