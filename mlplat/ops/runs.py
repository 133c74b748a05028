"""Training operations: check a `mlplat train` command line, run an experiment, rerun one,
open and close the sweep of an invocation.

Only `mlplat train`, `mlplat runs rerun` and the front doors that launch training load
this module, so its imports (Hydra's parser, OmegaConf, the engine) sit at the top; the
read operations on runs live in ``mlplat.ops.listing``.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from omegaconf import OmegaConf

from mlplat import redact
from mlplat.config import overrides as grammar
from mlplat.config.compose import compose, is_group, to_plain, tracking_of, translate
from mlplat.data.sources import _local_path, check_rows
from mlplat.engine import RunContext
from mlplat.engine import run_experiment as engine_run
from mlplat.errors import ConfigError, MlplatError
from mlplat.evaluation.metrics import metrics_for
from mlplat.models import params as model_params
from mlplat.models.build import build_estimator
from mlplat.ops.common import open_store, os_user
from mlplat.ops.listing import show_run
from mlplat.ops.registry import register_best_of_sweep
from mlplat.ops.sweeps import check_sweep
from mlplat.tracking import runs as runs_store

log = logging.getLogger("mlplat")


def _parse(overrides: list[str]):
    return grammar.parse(overrides)


def _is_group(key: str) -> bool:
    return "." not in key and is_group(key.lstrip("+~"))


def _expand(overrides: list[str]) -> tuple[list[list[str]], list[tuple[str, list[Any]]]]:
    """Which configs a command line will run, checked linearly (not the full product).

    Returns override lists to compose (one per alternative group choice) and, for value
    sweeps such as ``model.params.n_estimators=100,200``, the key and its typed values to
    apply to an already composed config (composing once per value would cost a Hydra
    composition each).
    """
    base: list[str] = []
    group_choices: list[tuple[int, list[str]]] = []
    value_sweeps: list[tuple[str, list[Any]]] = []
    for o in _parse(overrides):
        if o.is_hydra_override():
            continue  # checked by Hydra itself (launcher/sweeper options)
        key = o.get_key_element()
        if o.is_sweep_override():
            if not o.is_discrete_sweep() or o.value_type.name == "GLOB_CHOICE_SWEEP":
                continue  # interval sweeps are a sweeper's search space, not a value
            # a long range is checked at its ends (grammar.check_values), never listed
            values = grammar.check_values(o)
            if not values:
                raise ConfigError(f"`{o.input_line}` sweeps over no value: the range is empty")
            strings = list(o.sweep_string_iterator()) if not o.is_range_sweep() else [str(v) for v in values]
            base.append(f"{key}={strings[0]}")
            if _is_group(key):
                group_choices.append((len(base) - 1, [f"{key}={v}" for v in strings]))
            else:
                value_sweeps.append((key.lstrip("+"), values))
            continue
        base.append(o.input_line or f"{key}={o.get_value_element_as_str()}")
    combos = [base]
    for idx, alternatives in group_choices:
        for alt in alternatives[1:]:
            combos.append([*base[:idx], alt, *base[idx + 1:]])
    return combos, value_sweeps


def check_config(plain: dict) -> None:
    """Checks that need the resolved config but no data: targets, params, metrics, files."""
    dataset = plain["dataset"]
    task = str(dataset["task"])
    metrics_for(task, plain["evaluation"].get("metrics"), plain["evaluation"]["primary"])
    build_estimator(plain["model"], task, plain["seed"], 1,
                    allowed=(plain.get("runtime") or {}).get("allowed_modules"), native_check=True)
    if dataset["source"] in ("csv", "parquet") and dataset.get("path"):
        _local_path(dataset)  # a missing file fails here, before any job starts
    check_rows(dataset)  # filter expression and column names, before any job starts
    if not 0 <= float(plain["evaluation"]["test_size"]) < 1:
        raise ConfigError(f"evaluation.test_size={plain['evaluation']['test_size']} must be in [0, 1)")
    if int(plain["evaluation"]["cv"]["folds"]) < 2:
        raise ConfigError(f"evaluation.cv.folds={plain['evaluation']['cv']['folds']} must be at least 2")


def _model_keys(overrides: list[str]) -> list[tuple[str, str]]:
    """(section, name) of every model parameter the command line sets (model.params.C=..., +model.x.y=...)."""
    keys = []
    for o in _parse(overrides):
        if o.is_hydra_override() or o.is_delete():
            continue
        parts = o.get_key_element().lstrip("+").split(".")
        if parts[0] != "model" or len(parts) < 2 or parts[1] not in model_params.SECTIONS:
            continue
        if len(parts) >= 3:
            keys.append((parts[1], parts[2]))
        elif not o.is_sweep_override() and isinstance(o.value(), dict):
            keys += [(parts[1], str(k)) for k in o.value()]
    return keys


def _check_reached(plain: dict, keys: list[tuple[str, str]]) -> None:
    """Refuse a model parameter override that no estimator parameter receives (recorded but not run)."""
    model, task = plain["model"], str(plain["dataset"]["task"])
    lost = model_params.unreached(model, task, keys)
    if lost:
        own = model_params.task_section(task)
        valid = [f"model.{own}.{k}" for k in (model.get(own) or {})]
        valid += [f"model.params.{k}" for k in (model.get("params") or {}) if k not in (model.get(own) or {})]
        raise ConfigError(f"{lost[0]}: the override would be recorded but change nothing in the fit; the keys "
                          f"model {model['name']!r} uses for {task} are {', '.join(valid) or '(none)'} "
                          f"(add another with +model.{own}.<name>=...)")


def check_train_overrides(overrides: list[str], *, multirun: bool = False, store: bool = True) -> dict:
    """Compose and check every value a `mlplat train` command line will run, before any job.

    Returns the first job's resolved config; also opens (and migrates) its store so an
    unreachable store fails here, once, instead of in every job. With ``multirun`` the sweep
    is checked too (presets, launcher plugin and address, search space keys and values).
    """
    if not multirun:  # the one rule for every door (CLI, API, chat): a run takes one value per key
        grammar.refuse_sweeps_in_run(_parse(overrides))
    return _check_overrides(overrides, multirun=multirun, store=store)


def _check_overrides(overrides: list[str], *, multirun: bool, store: bool) -> dict:
    extra = check_sweep(overrides, multirun=multirun)  # override sets only the sweep config reveals
    combos, value_sweeps = _expand(overrides)
    model_keys = _model_keys(overrides)
    first = None
    for combo in combos:
        cfg = compose(combo)
        plain = to_plain(cfg)
        _check_reached(plain, model_keys)
        check_config(plain)
        first = first or plain
        for key, values in value_sweeps:
            for value in values[1:]:
                variant = cfg.copy()
                try:
                    OmegaConf.update(variant, key, value, merge=True)
                except Exception as exc:
                    raise translate(exc) from exc
                check_config(to_plain(variant))
    assert first is not None
    for more in extra:  # a grid preset's merged sweeps, Optuna probe points: checked as values
        _check_overrides(more, multirun=False, store=store)
    if store:  # (not for `--cfg`, which must create nothing)
        open_store(first["tracking"])
    os.environ["MLPLAT_PRECHECKED"] = "1"  # lets the sweeper skip composing every job twice
    return first


# -- runs and sweeps -----------------------------------------------------------------
def run_experiment(plain: dict, ctx: RunContext) -> Any:
    return engine_run(plain, ctx, store=open_store(plain["tracking"]))


def rerun(ref: str, *, actor: str | None = None, source: str = "cli", threads: int | None = None) -> Any:
    """Run a stored run's resolved config again (same data, seed, folds): its metrics reproduce."""
    stored = show_run(ref)
    if (stored.get("config") or {}).get("logged"):
        raise ConfigError(f"run {stored['id']} was recorded with mlplat.log_run (trained outside mlplat): there is "
                          "no config to run again; re-run your own training code")
    ctx = RunContext(actor=actor or os_user(), source=source, overrides=[f"rerun_of={stored['id']}"],
                     invocation_id=uuid.uuid4().hex[:16], threads=threads)
    config = stored["config"]
    tracking = config.get("tracking") or {}
    if redact.MASK in str(tracking.get("url", "")):
        # the stored URL had its password masked: the store is the one the run was read from
        config = {**config, "tracking": {**tracking, "url": tracking_of()["url"]}}
    return run_experiment(config, ctx)


def open_sweep(plain: dict, sweep_id: str, *, command: str, actor: str | None = None, source: str = "cli"):
    store = open_store(plain["tracking"])
    runs_store.create_sweep(store, sweep_id, command=command, actor=actor or os_user(), source=source,
                      experiment=plain["name"])
    return store


def describe_sweep_from_hydra(plain: dict, hc: Any, sweep_id: str) -> None:
    sweeper = hc.sweeper
    params = sweeper.get("params") if "params" in sweeper else None
    space = OmegaConf.to_container(params, resolve=False) if OmegaConf.is_config(params) else (params or {})
    runs_store.describe_sweep(open_store(plain["tracking"]), sweep_id, sweeper=str(sweeper.get("_target_", "")),
                        launcher=str(hc.launcher.get("_target_", "")), search_space=space, experiment=plain["name"])


def finish_invocation(invocation_id: str, tracking: dict, *, multirun: bool, actor: str | None = None,
                      source: str = "cli", registry: dict | None = None) -> dict:
    """After Hydra returns: mark jobs that never finished as crashed, close the sweep, count,
    and register the sweep's best run when conf/registry asks for it (as a candidate:
    promotion still needs its gates and approvals)."""
    store = open_store(tracking)
    runs_store.mark_crashed(store, invocation_id)
    rows = runs_store.runs_of_invocation(store, invocation_id)
    registered = None
    if multirun:
        closed = runs_store.close_sweep(store, invocation_id, actor=actor or os_user(), source=source)
        if closed.get("best_run_id") and registry is not None and (registry.get("auto_register") or {}).get("enabled"):
            try:
                registered = register_best_of_sweep(invocation_id, actor=actor or os_user(), source=source,
                                                    store=store, policy=registry)
            except MlplatError as exc:  # the sweep's results stand even if registration is refused
                log.error("auto-registration of sweep %s failed: %s", invocation_id, exc)
    failed = [r for r in rows if r["status"] != "done"]
    return {"total": len(rows), "failed": len(failed), "done": len(rows) - len(failed), "runs": rows,
            "registered": registered}


__all__ = ["check_config", "check_train_overrides", "run_experiment", "open_sweep", "describe_sweep_from_hydra",
           "finish_invocation", "rerun"]
