"""`mlplat train`: a genuine Hydra app around the engine.

The task function is a straight line: resolve the config, call ``ops.run_experiment``,
return the primary metric (NaN for a failed job) so any Hydra sweeper can optimise it.
``train_main`` wraps Hydra's own entry point to do what Hydra cannot: give every start a
unique invocation id (unique output dirs, sweep id), pre-check the overrides so a typo is
one clear line before any job runs, and close the sweep with its counts even when jobs
failed (Hydra skips ``on_multirun_end`` then), exiting non-zero only if a job failed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import uuid

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from mlplat import ops
from mlplat.config.compose import conf_dir, setup, to_plain
from mlplat.config.resolvers import register_resolvers as _register_sweep_resolvers
from mlplat.errors import MlplatError, one_line

log = logging.getLogger("mlplat")
setup()
# launcher presets use mlplat resolvers; jobs (joblib, Ray workers) import this module too
_register_sweep_resolvers()
CONF_DIR = str(conf_dir())


def _parallel_jobs(hc) -> int:
    launcher = hc.launcher
    n = launcher.get("n_jobs") if hasattr(launcher, "get") else None
    if n is None or n in (-1, 0):
        return os.cpu_count() or 1 if n == -1 else 1
    return max(1, int(n))


def _reserved_cpus(hc) -> int | None:
    """CPUs a cluster launcher reserves per job (Ray remote num_cpus, SLURM cpus_per_task)."""
    for key in ("launcher.ray.remote.num_cpus", "launcher.cpus_per_task"):
        value = OmegaConf.select(hc, key, default=None, throw_on_resolution_failure=False)
        if isinstance(value, int | float) and value >= 1:
            return int(value)
    return None


def _threads(cfg: DictConfig, hc) -> int:
    if cfg.runtime.threads:
        return int(cfg.runtime.threads)
    cores = os.cpu_count() or 1
    reserved = _reserved_cpus(hc) if str(hc.mode) == "RunMode.MULTIRUN" else None
    if reserved:
        return min(reserved, cores)  # a Ray/SLURM job gets what it reserved, so jobs never oversubscribe a node
    if str(hc.mode) == "RunMode.MULTIRUN":
        return max(1, cores // _parallel_jobs(hc))
    return cores


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def task(cfg: DictConfig) -> float:
    # the engine (pandas, scikit-learn: ~1 s) and the heartbeat (SQLAlchemy) are imported by
    # the job that runs: `mlplat train --cfg job` and `--help` answer without them
    from mlplat.engine import RunContext
    from mlplat.heartbeat import Heartbeat

    hc = HydraConfig.get()
    multirun = str(hc.mode) == "RunMode.MULTIRUN"
    invocation = os.environ.get("MLPLAT_INVOCATION_ID") or uuid.uuid4().hex[:16]
    ctx = RunContext(
        actor=os.environ.get("MLPLAT_ACTOR") or ops.os_user(),
        source=os.environ.get("MLPLAT_SOURCE", "cli"),
        overrides=list(hc.overrides.task),
        sweep_id=invocation if multirun else None,
        job_num=int(hc.job.num) if multirun else None,
        invocation_id=invocation,
        threads=_threads(cfg, hc),
    )
    try:
        plain = to_plain(cfg)
        if multirun:
            ops.describe_sweep_from_hydra(plain, hc, invocation)
        # a live job's heartbeat tells it from one killed with SIGKILL (see mlplat.heartbeat)
        with Heartbeat(ops.open_store(plain["tracking"]), invocation):
            outcome = ops.run_experiment(plain, ctx)
    except Exception as exc:
        run_id = getattr(exc, "mlplat_run_id", None)
        log.error("%s%s", f"run {run_id} failed: " if run_id else "", one_line(exc))
        log.debug("traceback", exc_info=True)
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("MLPLAT_VERBOSE") == "1":
            raise
        return math.nan
    cv = ", ".join(f"{k}={m:.4f}±{s:.4f}" for k, (m, s) in outcome.cv.items())
    log.info("run %s done: %s", outcome.run_id, cv)
    return outcome.primary_value


def _wants_hydra_only(args: list[str]) -> bool:
    """--help, --info, --cfg and friends: Hydra answers them; no run, no sweep record."""
    flags = {"--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c", "--shell-completion", "-sc",
             "--version", "--resolve"}
    return any(a in flags or a.split("=")[0] in flags for a in args)


def _progress(ops, checked: dict, args: list[str], invocation: str, *, enabled: bool):
    """A progress display over this sweep's trials (a no-op context for single runs)."""
    if not enabled:
        return contextlib.nullcontext()
    from mlplat.progress import SweepProgress  # deferred as in task()

    plan = ops.plan_sweep([a for a in args if not a.startswith("-")])
    return SweepProgress(ops.open_store(checked["tracking"]), invocation, total=plan.total)


def _driver_heartbeat(ops, checked: dict, invocation: str, *, enabled: bool):
    """Beat the sweep row while this driver runs it, whichever launcher runs the jobs: a
    driver killed mid-sweep is then told from a live one (mlplat.heartbeat)."""
    if not enabled:
        return contextlib.nullcontext()
    from mlplat.heartbeat import Heartbeat  # deferred as in task()

    return Heartbeat(ops.open_store(checked["tracking"]), invocation)


def train_main(args: list[str]) -> int:
    """Run `mlplat train ARGS` like a Hydra app and return the process exit code."""
    # Hydra's argparse rejects overrides on both sides of -m: move the flag to the front
    args = [a for a in args if a in ("-m", "--multirun")] + [a for a in args if a not in ("-m", "--multirun")]
    invocation = uuid.uuid4().hex[:16]
    os.environ["MLPLAT_INVOCATION_ID"] = invocation
    multirun = any(a in ("-m", "--multirun") for a in args)
    hydra_only = _wants_hydra_only(args)
    checked: dict = {}
    if not hydra_only:
        try:
            checked = ops.check_train_overrides([a for a in args if not a.startswith("-")], multirun=multirun)
            ops.mark_stale(store=ops.open_store(checked["tracking"]))  # runs and sweeps of killed processes
            if multirun:
                ops.open_sweep(checked, invocation, command="mlplat train " + " ".join(args))
        except MlplatError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    sys.argv = ["mlplat", *args]
    code = 0
    try:
        with _progress(ops, checked, args, invocation, enabled=multirun and not hydra_only), \
                _driver_heartbeat(ops, checked, invocation, enabled=multirun and not hydra_only):
            task()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    if hydra_only:
        return code
    if multirun:
        try:
            ops.link_optuna_study(invocation, checked["tracking"])
        except Exception as exc:  # the link is a convenience; the sweep's results are recorded anyway
            log.debug("no Optuna study linked: %s", exc)
    try:
        summary = ops.finish_invocation(invocation, checked["tracking"], multirun=multirun,
                                        registry=checked.get("registry"))
    except MlplatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return code or 1
    if summary.get("registered"):
        reg = summary["registered"]
        print(f"registered the sweep's best run as {reg.get('name')}:{reg.get('version')} "
              "(promote it with `mlplat models promote`)", file=sys.stderr)
    if summary["failed"] and not code:
        code = 1
    if summary["total"] == 0 and not code:
        code = 1  # Hydra started no job (e.g. an error it reported itself)
    return code
