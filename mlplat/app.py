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
import gc
import logging
import math
import os
import sys
import uuid

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from mlplat import ops, redact
from mlplat.config.compose import conf_dir, set_command_line, setup, to_plain
from mlplat.config.memo import composing_once
from mlplat.config.resolvers import register_resolvers as _register_sweep_resolvers
from mlplat.errors import ConfigError, MlplatError, NothingToRun, one_line

log = logging.getLogger("mlplat")


def _masking_records() -> None:
    """Every log record's message masked (mlplat.redact) whoever logs it: Hydra's launchers
    log each job's overrides (a tracking.url with its password) to the console and to the
    job's log file. A record factory survives Hydra's logging.config.dictConfig; handlers
    and filters would not."""
    base = logging.getLogRecordFactory()
    if getattr(base, "mlplat_masking", False):
        return

    def factory(*args, **kwargs):
        record = base(*args, **kwargs)
        message = record.getMessage()
        masked = redact.text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return record

    factory.mlplat_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _mask_hydra_files(hc) -> None:
    """Hydra writes config.yaml, hydra.yaml and overrides.yaml (and the sweep's multirun.yaml)
    before the task runs, resolved and with every override as typed: rewrite them masked
    (atomically, since parallel jobs of one sweep share multirun.yaml)."""
    from pathlib import Path

    files: list[Path] = []
    out = Path(str(hc.runtime.output_dir))
    if hc.output_subdir:
        files += sorted((out / str(hc.output_subdir)).glob("*.yaml"))
    if str(hc.mode) == "RunMode.MULTIRUN":
        files.append(Path(str(hc.sweep.dir)) / "multirun.yaml")
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        masked = redact.text("\n".join(redact.override(line) if "=" in line and "://" not in line
                                        else line for line in text.split("\n")))
        masked = "\n".join(_mask_yaml_line(line) for line in masked.split("\n"))
        if masked != text:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(masked)
            os.replace(tmp, path)


def _mask_yaml_line(line: str) -> str:
    """``  password: value`` (a YAML mapping line under a secret-looking key) masked."""
    key, colon, value = line.partition(":")
    name = key.strip().lstrip("- ").strip()
    if colon and value.strip() and redact.is_secret_name(name) and value.strip() != redact.MASK:
        return f"{key}: {redact.MASK}"
    return line


_masking_records()
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


def _cluster_tags() -> dict[str, str]:
    """The Ray node a job ran on, as a run tag: the nodes of one cluster may share a host name
    (several on one machine, containers) and pids repeat across hosts, so the run's host and
    pid alone do not say where it ran. Ray is only looked up, never imported: a job inside a
    Ray worker has imported it already, and no other job pays for it."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return {}
    return {"ray_node_id": ray.get_runtime_context().get_node_id()}


def _freeze_once() -> None:
    """Freeze the collector's view of the process once, at its first job: what is imported by
    then (Hydra, scikit-learn, pandas: about a million objects) lives as long as the process, and
    the full collections during every job (and at exit) walked it. In joblib workers a 16-trial
    sweep's mean trial went from 1.24-1.28 s to 1.09-1.15 s (alternated runs, 4 December); in a
    serial sweep the change was within the machine's drift."""
    if not gc.get_freeze_count():
        gc.freeze()


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def task(cfg: DictConfig) -> float:
    # the engine (pandas, scikit-learn: ~1 s) and the heartbeat (SQLAlchemy) are imported by
    # the job that runs: `mlplat train --cfg job` and `--help` answer without them
    from mlplat.engine import RunContext
    from mlplat.heartbeat import Heartbeat

    _freeze_once()
    hc = HydraConfig.get()
    multirun = str(hc.mode) == "RunMode.MULTIRUN"
    _mask_hydra_files(hc)
    invocation = os.environ.get("MLPLAT_INVOCATION_ID") or uuid.uuid4().hex[:16]
    ctx = RunContext(
        actor=os.environ.get("MLPLAT_ACTOR") or ops.os_user(),
        source=os.environ.get("MLPLAT_SOURCE", "cli"),
        overrides=list(hc.overrides.task),
        sweep_id=invocation if multirun else None,
        job_num=int(hc.job.num) if multirun else None,
        invocation_id=invocation,
        threads=_threads(cfg, hc),
        tags=_cluster_tags(),
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
        line = f"{f'run {run_id} failed: ' if run_id else ''}{one_line(exc)}"
        log.error("%s", line)
        print(f"error: {line}", file=sys.stderr)  # the log goes to stdout; the error belongs on stderr
        log.debug("traceback", exc_info=True)
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("MLPLAT_VERBOSE") == "1":
            raise
        return math.nan
    cv = ", ".join(f"{k}={m:.4f}±{s:.4f}" for k, (m, s) in outcome.cv.items())
    log.info("run %s done: %s", outcome.run_id, cv)
    return outcome.primary_value


def parse_args(args: list[str]):
    """`mlplat train ARGS` read with Hydra's own argument parser (every Hydra flag, with the
    overrides in any position), plus the argument list to hand to Hydra: flags first, then
    the overrides, relative --config-dir/--config-path made absolute against the working
    directory (an installed app has no source directory a relative path could mean)."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.prog = "mlplat train"
    ns = parser.parse_intermixed_args(args)
    for key in ("config_dir", "config_path"):
        value = getattr(ns, key)
        if value and not value.startswith("pkg://"):
            setattr(ns, key, os.path.abspath(value))
    argv: list[str] = []
    for flag, key in (("--help", "help"), ("--hydra-help", "hydra_help"), ("--resolve", "resolve"),
                      ("--run", "run"), ("--multirun", "multirun"), ("--shell-completion", "shell_completion")):
        if getattr(ns, key):
            argv.append(flag)
    for flag, key in (("--cfg", "cfg"), ("--package", "package"), ("--config-path", "config_path"),
                      ("--config-name", "config_name"), ("--config-dir", "config_dir"),
                      ("--experimental-rerun", "experimental_rerun")):
        if getattr(ns, key) is not None:
            argv += [flag, getattr(ns, key)]
    if ns.info is not None:
        argv.append(f"--info={ns.info}")
    return ns, [*argv, *ns.overrides]


def _note_outside_project() -> None:
    from mlplat.project import find_project

    project = find_project()
    if project.root is None:
        print(f"note: {project.where()}: using mlplat's shipped configs; runs go to {project.start / 'runs'} "
              "(`mlplat init` makes a project)", file=sys.stderr)


def _completion_line() -> None:
    """Hydra's completion script asks `mlplat -sc query=bash` with the whole command line in
    COMP_LINE: drop the `train` word so Hydra sees the overrides as it would for its own app."""
    line = os.environ.get("COMP_LINE")
    if line is not None:
        words = line.split(" ")
        if len(words) > 1 and words[1] == "train":
            os.environ["COMP_LINE"] = " ".join([words[0], *words[2:]])


def _progress(ops, checked: dict, plan, invocation: str):
    """A progress display over this sweep's trials (a no-op context for single runs)."""
    if plan is None:
        return contextlib.nullcontext()
    from mlplat.progress import SweepProgress  # deferred as in task()

    return SweepProgress(ops.open_store(checked["tracking"]), invocation, total=plan.total)


def _unrecorded(plan, recorded: int) -> int:
    """Trials of a Ray sweep that left no run: a worker that died before its job recorded its start
    (during imports) leaves nothing to mark crashed, and the launcher's error line is all there is.
    Only for Ray: there a trial is lost without a word, and every other launcher's trial either
    records a run or fails the whole command."""
    if plan is None or plan.total is None or plan.launcher != "MlplatRayLauncher":
        return 0
    return max(plan.total - recorded, 0)


def _driver_heartbeat(ops, checked: dict, invocation: str, *, enabled: bool):
    """Beat the sweep row while this driver runs it, whichever launcher runs the jobs: a
    driver killed mid-sweep is then told from a live one (mlplat.heartbeat)."""
    if not enabled:
        return contextlib.nullcontext()
    from mlplat.heartbeat import Heartbeat  # deferred as in task()

    return Heartbeat(ops.open_store(checked["tracking"]), invocation)


def _sweep_summary(sweep_id: str, rows: list[dict]) -> str:
    """The one line a sweep ends with when a trial did not finish: its counts by status (a trial
    whose process died, e.g. a killed Ray worker, is 'crashed': it recorded no end)."""
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "failed", "crashed")}
    return (f"sweep {sweep_id} finished: {counts['done']} done, {counts['failed']} failed, {counts['crashed']} crashed "
            f"of {len(rows)} trials (mlplat sweeps show {sweep_id})")


def train_main(args: list[str]) -> int:
    """Run `mlplat train ARGS` like a Hydra app and return the process exit code."""
    # the pre-check and the Hydra app compose the same config: once (see mlplat.config.memo)
    with composing_once():
        return _train_main(args)


def _train_main(args: list[str]) -> int:
    ns, hydra_args = parse_args(args)
    invocation = uuid.uuid4().hex[:16]
    os.environ["MLPLAT_INVOCATION_ID"] = invocation
    multirun = bool(ns.multirun)
    # --help, --info, --cfg, --shell-completion: Hydra answers them; no run, no sweep record
    hydra_only = bool(ns.help or ns.hydra_help or ns.info is not None or ns.cfg or ns.shell_completion)
    set_command_line([d for d in (ns.config_dir, ns.config_path) if d and not d.startswith("pkg://")],
                     ns.config_name)
    checked: dict = {}
    if ns.shell_completion:
        _completion_line()
    elif not (ns.help or ns.hydra_help or ns.info is not None):
        try:
            for d in (ns.config_dir, ns.config_path):
                if d and not d.startswith("pkg://") and not os.path.isdir(d):
                    raise ConfigError(f"config directory {d} not found (--config-dir/--config-path)")
            # --cfg prints a config: it is checked like a run's (allow-list, parameters), and
            # nothing is created for it (no store, no sweep)
            checked = ops.check_train_overrides(list(ns.overrides), multirun=multirun, store=not ns.cfg)
            if not ns.cfg:  # the one permission check (conf/access) before any job
                from mlplat.ops.access import check_env

                check_env("sweep" if multirun else "train", checked.get("access"),
                          what="start sweeps" if multirun else "train")
                _note_outside_project()
                store = ops.open_store(checked["tracking"])
                store.check_writable()  # a read-only store file: said now, not after the fit
                ops.mark_stale(store=store)  # runs and sweeps of killed processes
                if multirun:
                    ops.open_sweep(checked, invocation, command="mlplat train " + " ".join(args))
        except NothingToRun as exc:  # e.g. a complete Optuna study: said once, nothing recorded
            print(f"note: {exc}", file=sys.stderr)
            return 0
        except MlplatError as exc:
            print(f"error: {redact.text(str(exc))}", file=sys.stderr)
            return 2
    sys.argv = ["mlplat", *hydra_args]
    code = 0
    plan = ops.plan_sweep(list(ns.overrides)) if multirun and not hydra_only else None
    try:
        with _progress(ops, checked, plan, invocation), \
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
        print(f"error: {redact.text(str(exc))}", file=sys.stderr)
        return code or 1
    if summary.get("registered"):
        reg = summary["registered"]
        print(f"registered the sweep's best run as {reg.get('name')}:{reg.get('version')} "
              "(promote it with `mlplat models promote`)", file=sys.stderr)
    if multirun and summary["failed"]:
        print(f"[mlplat] {_sweep_summary(invocation, summary['runs'])}", file=sys.stderr)
    if summary["failed"] and not code:
        code = 1
    lost = _unrecorded(plan, summary["total"])
    if lost:
        print(f"[mlplat] sweep {invocation}: {lost} of {plan.total} trials left no run (their Ray worker died "
              "before the job started; see the error lines above)", file=sys.stderr)
        code = code or 1
    if summary["total"] == 0 and not code:
        code = 1  # Hydra started no job (e.g. an error it reported itself)
    return code
