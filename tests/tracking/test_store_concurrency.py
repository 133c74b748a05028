"""Concurrent writers: 4 processes x 50 runs, each process mixing per-run and batched writes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa

from mlplat.tracking import audit, runs

WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[3])
    from store_helpers import record, result, start
    from mlplat.tracking import runs
    from mlplat.tracking.store import Store

    store = Store.open(sys.argv[1], sys.argv[4])
    worker = sys.argv[2]
    for i in range(25):  # the engine's path: one transaction to start, one to finish
        run_id = f"w{worker}_single_{i:02d}"
        runs.start_run(store, start(run_id, sweep_id="shared", job_num=i))
        runs.finish_run(store, run_id, result({"roc_auc": 0.5 + i / 100}), actor="t", source="test")
    batch = [record(f"w{worker}_batch_{i:02d}", {"roc_auc": 0.6}, started_at=1.0e9 + i, sweep_id="shared")
             for i in range(25)]
    for i in range(0, 25, 5):  # small batches, so batch and single writers interleave
        runs.record_runs_batch(store, batch[i:i + 5])
""")


def test_four_processes_write_200_complete_runs(store, store_url: str, tmp_path: Path):
    helpers = str(Path(__file__).parent)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, store_url, str(w), helpers, str(tmp_path / "a")],
                              stderr=subprocess.PIPE, text=True) for w in range(4)]
    errors = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with store.read() as conn:
        by_status = dict(conn.execute(sa.select(runs.runs.c.status, sa.func.count()).group_by(runs.runs.c.status)).all())
        metric_rows = conn.execute(sa.select(sa.func.count()).select_from(runs.run_metrics)
                                   .where(runs.run_metrics.c.stage == "cv")).scalar_one()
        chain = audit.verify(conn)
    assert by_status == {"done": 200}
    assert metric_rows == 200
    assert chain.ok and chain.entries == 400, chain  # run.start + run.done per run, one unbroken chain
    assert len(runs.leaderboard(store, metric="roc_auc", filters={"sweep_id": "shared"}, top=500)) == 200
