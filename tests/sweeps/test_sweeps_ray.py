"""`mlplat train -m ... launcher=ray` against a Ray head the test starts, with a PostgreSQL store.

Everything runs inside a loopback-only network namespace (`unshare -n`, root): `ray start`
binds to the host's routable address otherwise. The PostgreSQL server listens on 127.0.0.1 of
the *host* namespace, unreachable from inside; its unix socket is a file, reachable from any
network namespace, so the store URL uses `?host=<socket dir>`.

Runs in CI (CI=true: a missing ray, root or socket fails the test); elsewhere it is skipped
only when Ray is not installed or the machine cannot create a network namespace. Ray's start
costs ~10 s a node, so there are two tests: one node and one sweep, checked in full; and two
nodes (no shared directory, artifacts in moto's S3 server) driving an unreachable address, a
sweep, and a sweep whose trial's worker is killed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
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


def _pythonpath() -> str:
    """This checkout first, then the caller's own path (the Ray nodes' workers inherit it)."""
    return os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))


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
    env.update(PYTHON=sys.executable, WORK=str(tmp_path), STORE=store, PYTHONPATH=_pythonpath(),
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


# -- two nodes, no shared directory, artifacts in the S3 stand-in, a worker killed -----------
STEPS = Path(__file__).with_name("ray_cluster_steps.py")
SLOW = "model.params.n_estimators=4000"  # the trial whose worker is killed mid-fit (~30 s of fitting)

# Inside `unshare -n -p -f --mount-proc`: loopback only, and a PID namespace of its own, so
# `ray stop` sees (and stops) only this test's Ray processes and everything still running
# when the script ends dies with it. Each node is started from its own empty directory (its
# workers' working directory); the driver runs from a third.
CLUSTER_SCRIPT = """
set -u
ip link set lo up
ray=$(dirname "$PYTHON")/ray
mkdir -p head node2 driver
MOTO_ALLOW_NONEXISTENT_REGION=true "$PYTHON" -m moto.server -H 127.0.0.1 -p "$S3_PORT" > moto.log 2>&1 &
(cd head && "$ray" start --head --node-ip-address=127.0.0.1 --port=6379 --num-cpus=1 --include-dashboard=false \
    --disable-usage-stats --object-store-memory=78643200 --temp-dir="$RAY_TMP/h" > ../head.log 2>&1) \
    || { cat head.log; exit 90; }
# a second node on the same host: its own temp dir and dashboard-agent port (the head holds 52365)
(cd node2 && "$ray" start --address=127.0.0.1:6379 --node-ip-address=127.0.0.1 --num-cpus=1 \
    --object-store-memory=78643200 --temp-dir="$RAY_TMP/n" --dashboard-agent-listen-port=52366 \
    > ../node2.log 2>&1) || { cat node2.log; exit 91; }
"$PYTHON" "$STEPS" bucket || exit 92
train() {
    (cd driver && "$PYTHON" -m mlplat.cli train -m launcher=ray evaluation=fast "tracking.url='$STORE'" \
        "tracking.artifacts=s3://$BUCKET/mlplat" "$@")
}
(export MLPLAT_RAY_ADDRESS=127.0.0.1:9; train model=logreg,knn > refused.out 2> refused.err; echo $? > refused.code)
train model=logreg,knn > sweep.out 2> sweep.err; echo $? > sweep.code
"$PYTHON" "$STEPS" kill "$SLOW" killed.json > kill.log 2>&1 &
killer=$!
train model=random_forest model.params.n_estimators=4000,200 > killed.out 2> killed.err; echo $? > killed.code
wait $killer
(cd driver && "$PYTHON" "$STEPS" verify ../verify.json) > verify.log 2>&1 || { cat verify.log; exit 93; }
"$ray" stop --force > /dev/null 2>&1
exit 0
"""


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else f"({path.name} missing)"


@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_a_two_node_sweep_writes_s3_artifacts_and_a_killed_worker_is_a_crashed_trial(ray_ready, pg_url: str,
                                                                                     tmp_path: Path):
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("s3fs") is None:
        _unavailable("the S3 stand-in needs moto and s3fs: pip install -e '.[test]'")
    socket_url = sa.make_url(pg_url).set(host=None, port=None, query={"host": PG_SOCKET_DIR})
    store = socket_url.render_as_string(hide_password=False)
    bucket, port = "mlplat-ray", 9000  # fixed ports are free: the namespace has its own loopback
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_", "RAY_", "AWS_"))}
    env.update(PYTHON=sys.executable, WORK=str(tmp_path), STORE=store, STEPS=str(STEPS), SLOW=SLOW,
               BUCKET=bucket, S3_PORT=str(port),
               PYTHONPATH=_pythonpath(),
               MLPLAT_RAY_ADDRESS="127.0.0.1:6379", RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0",
               # what a user sets for the object store (tests/s3_kit.py); the nodes get it too
               AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="testing",
               AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               MLPLAT_ARTIFACT_CACHE=str(tmp_path / "cache"))
    # Ray's unix sockets live under its temp dir, and a socket path is at most 107 bytes: pytest's
    # tmp_path is too deep for them
    ray_tmp = tempfile.mkdtemp(prefix="mlplat-ray-")
    try:
        proc = subprocess.run(["unshare", "-n", "-p", "-f", "--mount-proc", "sh", "-c", CLUSTER_SCRIPT],
                              cwd=tmp_path, env={**env, "RAY_TMP": ray_tmp}, capture_output=True, text=True,
                              timeout=280)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    err = {name: _read(tmp_path / f"{name}.err") for name in ("refused", "sweep", "killed")}
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:] + str(err) + _read(tmp_path / "kill.log")
    code = {name: int(_read(tmp_path / f"{name}.code")) for name in ("refused", "sweep", "killed")}

    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        sweeps = {r.id: r._asdict() for r in conn.execute(sa.text(
            "SELECT id, status, ended_at, n_done, n_failed, n_crashed, n_running, launcher FROM sweeps"))}
        rows = [r._asdict() for r in conn.execute(sa.text("SELECT id, sweep_id, status, overrides FROM runs"))]
        nodes = dict(conn.execute(sa.text("SELECT run_id, value FROM run_tags WHERE key = 'ray_node_id'")).all())
        artifacts = [r._asdict() for r in conn.execute(sa.text("SELECT run_id, name, path FROM artifacts"))]
    engine.dispose()

    # an address that does not answer: one line, exit 2, nothing recorded
    assert code["refused"] == 2 and err["refused"].strip().splitlines() == [
        "error: cannot reach the Ray cluster at 127.0.0.1:9 (Connection refused; hydra.launcher.ray.init.address "
        "or MLPLAT_RAY_ADDRESS): start it with `ray start --head` or fix the address"]
    assert len(sweeps) == 2

    # the two-node sweep: every trial done, one on each node, each in its node's own directory
    assert code["sweep"] == 0, err["sweep"]
    assert (tmp_path / "killed.json").is_file(), _read(tmp_path / "kill.log")  # the kill step found its trial
    killed = json.loads(_read(tmp_path / "killed.json"))
    by_sweep: dict[str, list[dict]] = {}
    for r in rows:
        by_sweep.setdefault(r["sweep_id"], []).append(r)
    (first,) = [sid for sid, trials in by_sweep.items() if killed["run_id"] not in {t["id"] for t in trials}]
    second = next(sid for sid in by_sweep if sid != first)
    assert sorted(t["status"] for t in by_sweep[first]) == ["done", "done"]
    assert sweeps[first]["status"] == "done" and sweeps[first]["launcher"].endswith("MlplatRayLauncher")
    assert len({nodes[t["id"]] for t in by_sweep[first]}) == 2  # the Ray node id each trial recorded
    for node in ("head", "node2"):  # Hydra's job folder is relative: it landed in that node's directory
        assert list((tmp_path / node / "runs" / "hydra" / "multirun").glob(f"*/*_{first}/[01]")), node

    # every artifact of a done run is an object in the bucket, read back (sha256) from a fresh process
    done = {r["id"] for r in rows if r["status"] == "done"}
    verified = json.loads(_read(tmp_path / "verify.json"))
    recorded = sorted((a["run_id"], a["name"], a["path"]) for a in artifacts)
    assert recorded and all(a["run_id"] in done for a in artifacts)
    assert sorted((v["run_id"], v["name"], v["path"]) for v in verified["read"]) == recorded
    assert all(path.startswith(f"s3://{bucket}/mlplat/{run}/") for run, _, path in recorded)
    assert {path.removeprefix(f"s3://{bucket}/") for _, _, path in recorded} <= set(verified["keys"])
    assert verified["predicted"] == {run: 20 for run in done}  # each model unpickled and predicting
    for node in ("head", "node2", "driver"):  # nothing was written to a worker's (or the driver's) disk
        assert not list((tmp_path / node).rglob("artifacts")) and not list((tmp_path / node).rglob("*.joblib"))

    # the killed worker: its trial crashed, not run again; the other trial done; the sweep closed
    trials = {t["id"]: t for t in by_sweep[second]}
    assert len(trials) == 2 and trials[killed["run_id"]]["status"] == "crashed"
    assert SLOW in trials[killed["run_id"]]["overrides"]
    assert [t["status"] for i, t in trials.items() if i != killed["run_id"]] == ["done"]
    sweep = sweeps[second]
    assert (sweep["status"], sweep["n_done"], sweep["n_crashed"], sweep["n_running"]) == ("failed", 1, 1, 0)
    assert sweep["ended_at"] is not None
    assert code["killed"] == 1 and "Traceback" not in err["killed"], err["killed"]
    assert re.search(r"^error: trial #0 \(.*n_estimators=4000\) ended without a result: WorkerCrashedError: ",
                     err["killed"], re.M), err["killed"]
    assert f"[mlplat] sweep {second} finished: 1 done, 0 failed, 1 crashed of 2 trials" in err["killed"]
