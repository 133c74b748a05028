"""Back to retraining: run the declared experiment or sweep, register its best run, ask for approval.

The training runs as a subprocess (`mlplat train ...` exactly as a user would type it, with
MLPLAT_ACTOR=monitor MLPLAT_SOURCE=monitor) so a crash or a memory blow-up in training
cannot take the scheduler or the bot down with it, and the runs carry the usual lineage.
Its runs are found by a tag (``monitor_retrain=<id>``) rather than by time, so a user
training at the same moment is never mistaken for the retraining. The new version is
only *requested* for promotion: a target alias that would apply a promotion without an
approval is refused here, because a model must never reach production unreviewed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from mlplat.errors import MlplatError, MonitoringError
from mlplat.evaluation.metrics import direction_of
from mlplat.monitoring.settings import seconds
from mlplat.tracking import audit
from mlplat.tracking.schema import run_tags, runs

AGENT = "monitor"  # the actor and source of everything the retraining itself does


class Registrar(Protocol):
    """The registry operations a retraining needs (``mlplat.ops.registry`` is one): passed in by
    the caller, because monitoring sits below the operations layer and never imports it."""

    def register(self, run_id: str, name: str, *, actor: str, source: str, description: str | None = None,
                 tags: dict[str, str] | None = None, store=None) -> dict[str, Any]: ...

    def register_best_of_sweep(self, sweep_id: str, name: str | None = None, *, actor: str, source: str,
                               store=None, policy: dict | None = None) -> dict[str, Any] | None: ...

    def request_promotion(self, name: str, version: int, to: str, *, actor: str, source: str, store=None,
                          policy: dict | None = None) -> dict[str, Any]: ...


def train_args(retrain: dict[str, Any], store, tag: str) -> list[str]:
    """The `mlplat train` arguments: the declared sweep/command, this store, and the finding tag."""
    args: list[str] = []
    if retrain.get("sweep"):
        args += ["-m", f"sweep={retrain['sweep']}"]
    args += list(retrain.get("command") or [])
    args += [f"tracking.url={store.url}", f"tracking.artifacts={store.artifact_root}", f"++tags.monitor_retrain={tag}"]
    return args


def _tagged_runs(store, tag: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(sa.select(runs.c.id, runs.c.status, runs.c.primary_metric, runs.c.primary_value,
                                      runs.c.sweep_id)
                            .join(run_tags, run_tags.c.run_id == runs.c.id)
                            .where(run_tags.c.key == "monitor_retrain", run_tags.c.value == tag)).all()
    return [dict(r._mapping) for r in rows]


def _best(done: list[dict[str, Any]]) -> dict[str, Any]:
    sign = 1.0 if direction_of(done[0]["primary_metric"]) == "maximize" else -1.0
    return max(done, key=lambda r: sign * float(r["primary_value"]))


def _audit(store, *, actor: str, source: str, action: str, name: str, payload: dict[str, Any]) -> None:
    with store.write() as conn:
        audit.append(conn, actor=actor, source=source, action=action, object_type="model", object_id=name,
                     payload=payload)


def _tail(text: str, n: int = 3) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:]) or "(no output)"


def run(name: str, retrain: dict[str, Any], *, store, actor: str, source: str, policy: dict[str, Any],
        registry: Registrar, reason: str | None = None, check_id: int | None = None) -> dict[str, Any]:
    """Train, register and request approval, synchronously; every step audited. Never promotes.

    ``registry`` registers the result and opens the approval request (the caller passes
    ``mlplat.ops.registry``, so the registry's rules apply as for any front door).
    """
    target = str(retrain.get("request_to") or "production")
    register_as = str(retrain.get("register_as") or name)
    tp = (policy.get("targets") or {}).get(target)
    if tp is not None and int(tp.get("approvals", 1)) < 1:
        raise MonitoringError(f"retrain.request_to={target!r}: conf/registry applies promotions to {target} without "
                              "an approval, and retraining never promotes automatically; point request_to at an "
                              "alias that needs approvals")
    tag = uuid.uuid4().hex[:12]
    args = train_args(retrain, store, tag)
    out: dict[str, Any] = {"id": tag, "model": register_as, "trigger": reason, "check_id": check_id,
                           "command": ["mlplat", "train", *args], "started_at": time.time()}
    _audit(store, actor=actor, source=source, action="monitor.retrain.start", name=register_as,
           payload={"id": tag, "reason": reason, "check_id": check_id, "command": out["command"]})
    env = {**os.environ, "MLPLAT_ACTOR": AGENT, "MLPLAT_SOURCE": AGENT, "OMP_WAIT_POLICY": "PASSIVE"}
    try:
        proc = subprocess.run([sys.executable, "-m", "mlplat.cli", "train", *args], env=env, capture_output=True,
                              text=True, timeout=seconds(retrain.get("timeout", "2h"), "retrain.timeout"))
        out["returncode"] = proc.returncode
        done = [r for r in _tagged_runs(store, tag) if r["status"] == "done"]
        if not done:
            raise MonitoringError(f"retraining of {register_as} produced no finished run (exit {proc.returncode}): "
                                  f"{_tail(proc.stderr or proc.stdout)}")
        sweep_ids = {r["sweep_id"] for r in done if r["sweep_id"]}
        if sweep_ids:
            version = registry.register_best_of_sweep(sweep_ids.pop(), register_as, actor=AGENT, source=AGENT, store=store)
        else:
            best = _best(done)
            version = registry.register(best["id"], register_as, actor=AGENT,
                                   source=AGENT, store=store, description=f"retrained by monitoring ({reason or 'manual'})",
                                   tags={"monitor_retrain": tag})
        out.update(run_id=version["run_id"], version=version["version"], runs=len(done))
        try:
            req = registry.request_promotion(register_as, version["version"], target, actor=AGENT, source=AGENT,
                                        store=store, policy=policy)
            out["approval"] = {"id": req.get("id"), "status": req.get("status"), "target": target}
        except MlplatError as exc:  # a failed gate is a finding for the approvers, not a crash
            out["approval"] = {"id": None, "status": "refused", "target": target, "reason": str(exc)}
        out["status"] = "done"
    except subprocess.TimeoutExpired:
        out.update(status="failed", error=f"training exceeded retrain.timeout={retrain.get('timeout')}")
    except MlplatError as exc:
        out.update(status="failed", error=str(exc))
    out["ended_at"] = time.time()
    _audit(store, actor=AGENT, source=AGENT, action=f"monitor.retrain.{out['status']}", name=register_as,
           payload={k: out.get(k) for k in ("id", "version", "run_id", "approval", "error")})
    return out


def launch_background(name: str, retrain: dict[str, Any], *, store, reports_dir: str | Path, reason: str,
                      check_id: int | None) -> dict[str, Any]:
    """Start `mlplat monitor retrain` detached (the check that found the drift returns at once)."""
    log_dir = Path(reports_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-retrain-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.log"
    cmd = [sys.executable, "-m", "mlplat.cli", "monitor", "retrain", name, "--store", store.url,
           "--reason", reason, "--settings-json", json.dumps(retrain)]
    if check_id is not None:
        cmd += ["--check-id", str(check_id)]
    env = {**os.environ, "MLPLAT_ACTOR": AGENT, "MLPLAT_SOURCE": AGENT,
           "MLPLAT_ARTIFACTS": str(store.artifact_root)}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return {"status": "launched", "pid": proc.pid, "log": str(log_path), "trigger": reason, "check_id": check_id}
