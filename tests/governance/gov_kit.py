"""Governance test kit: the registry kit's trained churn store plus one failed run, and helpers."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "registry"))

from kit import fresh_store, policy, run_cli, train_churn  # noqa: E402

DAY = 86400.0
GOVERNANCE = {"max_model_age": "90d", "drift_unresolved_days": 7,
              "model_cards": {"default": {"intended_use": "default use", "limitations": "default limits"},
                              "churn": {"intended_use": "retention outreach", "limitations": "one market only"}}}

__all__ = ["DAY", "GOVERNANCE", "fresh_store", "policy", "run_cli", "train_with_failure", "add_drift_checks"]


def train_with_failure(base: Path) -> dict:
    """Two finished runs in a sweep (the registry kit's) and one run that failed at fit time."""
    info = train_churn(base)
    marker = base / "failed.txt"
    if not marker.is_file():
        # more folds than the minority class has rows: passes the config checks, fails in the CV split
        p = run_cli(["train", "dataset=churn", "evaluation=fast", "model=logreg", "evaluation.cv.folds=5000",
                     f"tracking.url=sqlite:///{info['db']}", f"tracking.artifacts={info['artifacts']}",
                     "hydra.run.dir=" + str(base / "hydra_failed")], cwd=base, check=False)
        assert p.returncode != 0
        con = sqlite3.connect(info["db"])
        (run_id,) = con.execute("SELECT id FROM runs WHERE status = 'failed'").fetchone()
        con.close()
        marker.write_text(run_id)
    return {**info, "failed": marker.read_text()}


def add_drift_checks(db: str, rows: list[tuple[str, int, str, float]]) -> None:
    """(model, version, status, age in days) drift checks, as monitoring stores them.

    Monitoring is written concurrently: when its migration has created the table, the rows
    go into its columns (by the names the report reads); otherwise a minimal table is made.
    """
    import sqlalchemy as sa

    from mlplat.governance.report import _pick, monitor_table

    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        table = monitor_table(conn)
        if table is None:
            conn.execute(sa.text("CREATE TABLE drift_checks (id INTEGER PRIMARY KEY, model TEXT NOT NULL, "
                                 "version INTEGER NOT NULL, status TEXT NOT NULL, created_at FLOAT NOT NULL)"))
            table = monitor_table(conn)
        names = {"model": _pick(table, "model", "name", "model_name"), "version": _pick(table, "version", "model_version"),
                 "status": _pick(table, "status", "overall_status"),
                 "ts": _pick(table, "created_at", "checked_at", "ts", "started_at", "time"),
                 "kind": _pick(table, "kind", "check_type", "type")}
        filler = {c.name: _filler(c) for c in table.columns
                  if not c.nullable and not c.primary_key and c not in names.values()}
        for model, version, status, age in rows:
            values = {**filler, names["model"].name: model, names["status"].name: status,
                      names["ts"].name: time.time() - age * DAY}
            if names["version"] is not None:
                values[names["version"].name] = version
            if names["kind"] is not None:
                values[names["kind"].name] = "drift"
            conn.execute(table.insert().values(**values))
    engine.dispose()


def _filler(column):
    try:
        python = column.type.python_type
    except NotImplementedError:
        python = str
    return {int: 0, float: 0.0, bool: False}.get(python, "{}")
