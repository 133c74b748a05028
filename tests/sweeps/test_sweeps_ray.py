"""`mlplat train -m ... launcher=ray` against a Ray head the test starts, with a PostgreSQL store.

Everything runs inside a loopback-only network namespace (`unshare -n`, root): `ray start`
binds to the host's routable address otherwise. The PostgreSQL server listens on 127.0.0.1 of
the *host* namespace, unreachable from inside; its unix socket is a file, reachable from any
network namespace, so the store URL uses `?host=<socket dir>`.

Runs in CI (CI=true: a missing ray, root or socket fails the test); elsewhere it is skipped
only when Ray is not installed or the machine cannot create a network namespace. Ray's start
costs ~10 s, so the test drives one sweep and checks everything on it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pytest
import sqlalchemy as sa

PG_SOCKET_DIR = os.environ.get("MLPLAT_TEST_PG_SOCKET", "/var/run/postgresql")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the Ray test must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def ray_ready():
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None:
        _unavailable("Ray is not installed: pip install 'mlplat[ray]'")
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        _unavailable("a loopback-only network namespace needs root, unshare and ip")
    if not Path(PG_SOCKET_DIR).is_dir():
        _unavailable(f"no PostgreSQL unix socket directory at {PG_SOCKET_DIR} (MLPLAT_TEST_PG_SOCKET)")


SCRIPT = """
set -u
ip link set lo up
ray=$(dirname "$PYTHON")/ray
"$ray" start --head --node-ip-address=127.0.0.1 --port=6379 --num-cpus=2 --include-dashboard=false \
    --disable-usage-stats > "$WORK/ray_head.log" 2>&1 || { cat "$WORK/ray_head.log"; exit 90; }
"$PYTHON" -m mlplat.cli train -m model=logreg,knn launcher=ray evaluation=fast \
    "tracking.url='$STORE'" "tracking.artifacts=$WORK/artifacts"
code=$?
"$ray" stop --force > /dev/null 2>&1
exit $code
"""


@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_a_sweep_on_a_ray_cluster_records_every_trial_in_postgres(ray_ready, pg_url: str, tmp_path: Path):
    socket_url = sa.make_url(pg_url).set(host=None, port=None, query={"host": PG_SOCKET_DIR})
    store = socket_url.render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_", "RAY_"))}
    repo = str(Path(__file__).resolve().parents[2])
    env.update(PYTHON=sys.executable, WORK=str(tmp_path), STORE=store, PYTHONPATH=repo,
               MLPLAT_RAY_ADDRESS="127.0.0.1:6379", RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    proc = subprocess.run(["unshare", "-n", "sh", "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=220)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Connected to Ray cluster" in proc.stderr + proc.stdout  # joined the test's head, not a private Ray

    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT id, model, status, sweep_id, invocation_id, pid, artifact_dir FROM runs"))
        rows = [r._asdict() for r in runs]
        sweep = conn.execute(sa.text("SELECT id, status, n_done, launcher FROM sweeps")).one()._asdict()
    engine.dispose()
    assert sorted((r["model"], r["status"]) for r in rows) == [("knn", "done"), ("logreg", "done")]
    # the jobs ran in Ray workers yet carry the sweep id of `mlplat train` (forwarded MLPLAT_* env)
    assert {r["sweep_id"] for r in rows} == {r["invocation_id"] for r in rows} == {sweep["id"]}
    assert sweep["status"] == "done" and sweep["n_done"] == 2 and sweep["launcher"].endswith("RayLauncher")
    # thread cap: a trial reserves one Ray CPU (remote.num_cpus), so KNN got n_jobs=1
    knn = next(r for r in rows if r["model"] == "knn")
    model = joblib.load(Path(knn["artifact_dir"]) / "model.joblib")
    assert model[-1].estimator_.n_jobs == 1  # the estimator inside LabelEncoded
