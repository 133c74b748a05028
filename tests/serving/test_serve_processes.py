"""`mlplat serve` as real processes on 127.0.0.1: the prediction log's loss bound under SIGKILL, and
several workers behind one port (`--workers 2`: both answer, metrics summed, the alias followed by
each, a tampered artifact refused by each, the log complete after SIGTERM)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from kit import CLI, free_port, fresh_store, policy
from waiting import wait_until

from mlplat import ops
from mlplat.config.schema import PredictionLogConfig
from mlplat.registry import aliases
from mlplat.serving.predlog import read_prediction_log

S = "test"
ROW = {"tenure_months": 12, "monthly_charges": 70.5, "support_calls": 3, "contract": "month", "region": "north"}


def _promote(store, version: int) -> None:
    req = ops.request_promotion("churn", version, "production", actor="bob", source=S, store=store,
                                policy=policy(gates={"run_completed": True, "validation_passed": True}))
    ops.approve(req["id"], actor="alice", source=S, store=store, policy=policy())


def _start(tmp_path, url: str, port: int, *args: str) -> subprocess.Popen:
    """`mlplat <args>` (a `serve` on ``port``) in ``tmp_path``, returned once it is ready."""
    env = {**os.environ, "MLPLAT_STORE_URL": url, "MLPLAT_ACTOR": "bob", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen([*CLI, *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def ready():
        assert proc.poll() is None, proc.stderr.read()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, timeout=120, interval=0.1)  # start-up is seconds; minutes on a loaded machine
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    return proc


def _parts(log_dir) -> int:
    return sum(1 for _ in log_dir.rglob("part-*.parquet"))


def test_sigkill_loses_only_the_rows_of_the_last_flush_interval(tmp_path, trained):
    store, url = fresh_store(tmp_path, trained)
    ops.register(trained["strong"], "churn", actor="bob", source=S, store=store)
    _promote(store, 1)
    port = free_port()
    proc = _start(tmp_path, url, port, "serve", "churn", "--port", str(port))
    log_dir = tmp_path / "runs" / "predictions"  # the default serving.prediction_log.dir, from the CLI's cwd
    answered: list[tuple[str, float]] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            while not stop.is_set():
                rid = uuid.uuid4().hex
                try:
                    r = c.post("/v1/models/churn/predict", json={"records": [ROW]}, headers={"x-request-id": rid})
                except httpx.TransportError:
                    return  # the server is gone
                if r.status_code == 200:
                    answered.append((rid, time.time()))

    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        wait_until(lambda: len(answered) > 50, timeout=10)
        # kill 0.7 s after a flush landed: with the old 1 s interval everything since is still in memory
        n = _parts(log_dir)
        wait_until(lambda: _parts(log_dir) > n, timeout=5, interval=0.01)
        time.sleep(0.7)
        killed_at = time.time()
        proc.kill()
        proc.wait(10)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        if proc.poll() is None:
            proc.kill()
    logged = set(read_prediction_log("churn", root=log_dir)["request_id"])
    bound = PredictionLogConfig().flush_interval_s + 0.35  # the documented bound: the interval plus one write
    assert bound < 0.7
    due = [rid for rid, t in answered if t < killed_at - bound]
    missing = [rid for rid in due if rid not in logged]
    assert len(due) > 50 and not missing, f"{len(missing)} of {len(due)} rows answered > {bound} s before the kill lost"


def _pid_versions(port: int, n: int) -> list[tuple[str, int]]:
    """``n`` single-row predictions, each on a new connection from 8 threads: (worker pid, version)."""
    def one(_):
        r = httpx.post(f"http://127.0.0.1:{port}/v1/models/churn/predict", json={"records": [ROW]}, timeout=10)
        assert r.status_code == 200, r.text
        return r.headers["x-mlplat-worker"], r.json()["version"], r.json()["request_id"]

    with ThreadPoolExecutor(8) as pool:
        out = list(pool.map(one, range(n)))
    _pid_versions.sent.extend(rid for _, _, rid in out)
    return [(pid, v) for pid, v, _ in out]


_pid_versions.sent = []


def _metric(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_two_workers_behind_one_port_follow_the_alias_and_lose_no_logged_row(tmp_path, trained):
    store, url = fresh_store(tmp_path, trained)
    ops.register(trained["strong"], "churn", actor="bob", source=S, store=store)
    ops.register(trained["weak"], "churn", actor="bob", source=S, store=store)
    _promote(store, 1)
    port = free_port()
    stale = tmp_path / "runs" / "serving" / "metrics" / str(port)
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"left by an earlier run")  # would break /metrics if summed in
    _pid_versions.sent.clear()
    proc = _start(tmp_path, url, port, "serve", "churn", "--workers", "2", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        # both processes answer, on one port
        seen = wait_until(lambda: (lambda s: s if len({p for p, _ in s}) == 2 else None)(_pid_versions(port, 40)),
                          timeout=20, interval=0)
        pids = {p for p, _ in seen}
        assert {v for _, v in seen} == {1} and str(proc.pid) not in pids
        # whichever worker answers /metrics reports the sum over both
        text = httpx.get(f"{base}/metrics", timeout=5).text
        sent = len(_pid_versions.sent)
        assert _metric(text, 'mlplat_predict_requests_total{code="200",model="churn",version="1"}') == sent
        assert _metric(text, 'mlplat_predict_latency_seconds_count{model="churn",version="1"}') == sent
        # a promotion is picked up by each worker
        _promote(store, 2)
        wait_until(lambda: {v for p, v in _pid_versions(port, 16)[-8:]} == {2}, timeout=15, interval=0.2)
        wait_until(lambda: {p for p, v in _pid_versions(port, 24) if v == 2} == pids, timeout=10, interval=0)
        served = wait_until(lambda: (lambda t: t if t.count("mlplat_served_version{") == 2 and
                                     _metric(t, "mlplat_served_version{") == 4 else None)(
            httpx.get(f"{base}/metrics", timeout=5).text), timeout=10, interval=0.2)
        assert {f'pid="{p}"' in served for p in pids} == {True}
        # a tampered artifact is refused by each worker; both keep serving the good version
        path = ops.show_model("churn:1", store=store)["model_path"]
        shutil.copyfile(path, path + ".bak")
        try:
            with open(path, "ab") as fh:
                fh.write(b"tampered")
            with store.write() as conn:
                aliases.move(conn, "churn", "production", 1, expected=2, action="promote", actor="alice", source=S)
            wait_until(lambda: _metric(httpx.get(f"{base}/metrics", timeout=5).text,
                                       'mlplat_model_load_failures_total{model="churn"}') == 2, timeout=10)
            assert {v for _, v in _pid_versions(port, 24)} == {2}
        finally:
            shutil.move(path + ".bak", path)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, proc.stderr.read()
    # SIGTERM flushed every worker's log: every answered row is there once, from files of both workers
    log = read_prediction_log("churn", root=tmp_path / "runs" / "predictions")
    assert sorted(log["request_id"]) == sorted(_pid_versions.sent)
    writers = {p.name.split("-")[3] for p in (tmp_path / "runs" / "predictions").rglob("part-*.parquet")}
    assert writers == pids
    assert not (stale / "counter_1.db").exists()
