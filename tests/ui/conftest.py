"""A seeded store for the web UI tests, and the UI served on 127.0.0.1.

The store holds two real `mlplat train -m` runs on churn (a finished sweep, with artifacts,
profile and audit entries; tests/registry/kit.py trains them once per session), a registered
model with production at version 1 and a pending request to move it to version 2, a real
drift check, and 150 inserted runs with params, tags, fold metrics and spread start times
for sorting, filtering and paging. Each test gets its own copy of that store.
"""

from __future__ import annotations

import random
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "registry"))

from kit import POLICY, REPO, Server, train_churn  # noqa: E402

T0 = 1_760_000_000.0
N_VOLUME = 150
HEADER = "X-Forwarded-User"


def volume(n: int = N_VOLUME, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        auc = round(rng.uniform(0.6, 0.99), 4)
        out.append({"id": f"vol{i:04d}" + "0" * 8, "started_at": T0 + i * 60, "dataset": ["wage", "adult"][i % 2],
                    "model": ["xgboost", "knn", "logreg"][i % 3], "sweep_id": None,
                    "params": {"max_depth": rng.randint(1, 12), "C": rng.choice([0.01, 0.1, 1.0, 10.0]),
                               "kernel": rng.choice(["rbf", "linear"])},
                    "tags": {"team": rng.choice(["fraud", "pricing"])},
                    "roc_auc": auc, "folds": [round(auc + rng.uniform(-0.02, 0.02), 4) for _ in range(3)],
                    "log_loss": round(rng.uniform(0.05, 0.7), 4)})
    return out


def insert_volume(store, data: list[dict]) -> None:
    from mlplat.tracking import runs

    recs = []
    for d in data:
        start = runs.RunStart(id=d["id"], experiment="volume", actor="seed", source="test", config={}, overrides=[],
                              config_hash="0" * 64, code_version="seed", code_dirty=False, package_versions={},
                              dataset=d["dataset"], model=d["model"], features="standard", task="classification",
                              primary_metric="roc_auc", sweep_id=d["sweep_id"], tags=d["tags"], params=d["params"])
        result = runs.RunResult(cv={"roc_auc": (d["roc_auc"], 0.01), "log_loss": (d["log_loss"], 0.02)},
                                folds=[{"roc_auc": f} for f in d["folds"]], holdout={"roc_auc": d["roc_auc"] - 0.01},
                                primary_value=d["roc_auc"], fit_time_s=1.0, duration_s=2.0 + d["started_at"] % 7,
                                dataset_fingerprint="f" * 64, artifact_dir="", artifacts=[])
        recs.append(runs.RunRecord(start=start, result=result, started_at=d["started_at"],
                                   ended_at=d["started_at"] + 2))
    runs.record_runs_batch(store, recs)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory) -> dict:
    """The seeded store (built once per session): its path and the ids the tests need."""
    from mlplat import ops
    from mlplat.tracking.store import Store

    trained = train_churn(tmp_path_factory.getbasetemp() / "churn_runs")
    base = tmp_path_factory.mktemp("ui_seed")
    db = base / "seed.db"
    src, out = sqlite3.connect(trained["db"]), sqlite3.connect(db)
    src.backup(out)
    src.close()
    out.close()
    url = f"sqlite:///{db}"
    store = Store.open(url, trained["artifacts"])
    insert_volume(store, volume())
    # production serves the weak run; the pending request is the strong one, which beats it
    # (a tie does not pass beat_champion)
    v1 = ops.register(trained["weak"], "churn", actor="bob", source="test", store=store)
    req1 = ops.request_promotion("churn", v1["version"], "production", actor="bob", source="test", store=store,
                                 policy=POLICY)
    ops.approve(req1["id"], actor="carol", source="test", store=store, policy=POLICY)
    v2 = ops.register(trained["strong"], "churn", actor="bob", source="test", store=store)
    req2 = ops.request_promotion("churn", v2["version"], "production", actor="bob", source="test", store=store,
                                 policy=POLICY)
    plain = ops.compose_plain([f"monitor.reports_dir={base / 'reports'}"])
    drift = ops.check_drift("churn", current=str(REPO / "data" / "churn.csv"), actor="seed", source="test",
                            store=store, monitor=plain["monitor"], serving=plain["serving"])
    store.close()
    return {"db": str(db), "artifacts": trained["artifacts"], "strong": trained["strong"], "weak": trained["weak"],
            "sweep_id": trained["sweep_id"], "pending": req2["id"], "check_id": drift.get("check_id"),
            "volume": volume()}


@pytest.fixture
def store_url(seeded, tmp_path: Path) -> str:
    db = tmp_path / "ui.db"
    src, out = sqlite3.connect(seeded["db"]), sqlite3.connect(db)
    src.backup(out)
    src.close()
    out.close()
    return f"sqlite:///{db}"


def serve(url: str, artifacts: str, **kw) -> Server:
    from mlplat.ui.app import create_app

    kw.setdefault("policy", POLICY)
    return Server(create_app(url, artifacts, **kw))


@pytest.fixture
def ui(store_url, seeded):
    """The read-only UI over this test's copy of the store."""
    with serve(store_url, seeded["artifacts"]) as server:
        yield server


@pytest.fixture
def ui_auth(store_url, seeded):
    """The UI with approvals: identity from X-Forwarded-User when the peer is 127.0.0.1."""
    with serve(store_url, seeded["artifacts"], auth_header=HEADER, trusted_proxies=["127.0.0.1"]) as server:
        yield server


