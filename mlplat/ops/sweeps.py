"""Sweep operations: check what a multirun will launch before any job, crash cleanup, pictures.

``check_sweep`` runs inside ``check_train_overrides`` (so before Hydra starts a job) and turns
each mistake a user can make in a sweep into one line: an unknown sweep/launcher preset, a
launcher plugin that is not installed, a malformed search space, a searched key the model does
not have, an unreachable Ray cluster. ``plan_sweep`` says how many jobs a command line will run
(the progress bar's total).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import os
import socket
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from omegaconf import OmegaConf

from mlplat.config import overrides as grammar
from mlplat.config.compose import compose, group_dirs, group_options
from mlplat.config.resolvers import register_resolvers
from mlplat.errors import ConfigError, NothingToRun
from mlplat.evaluation.metrics import direction_of
from mlplat.heartbeat import mark_stale_runs, mark_stale_sweeps
from mlplat.ops.common import open_store
from mlplat.project import resolve_sqlite_url
from mlplat.reports import charts
from mlplat.tracking import runs as runs_store
from mlplat.tracking.schema import runs, sweeps

BASIC_SWEEPERS = ("BasicSweeper", "MlplatBasicSweeper")
OPTUNA_SWEEPER = "MlplatOptunaSweeper"
# launcher presets backed by an optional plugin: (module, pip extra)
PLUGIN_OF_PRESET = {
    "ray": ("hydra_plugins.hydra_ray_launcher", "ray"),
    "slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
}
PLUGIN_OF_HYDRA_LAUNCHER = {
    "ray": PLUGIN_OF_PRESET["ray"],
    "mlplat_ray": PLUGIN_OF_PRESET["ray"],
    "submitit_slurm": PLUGIN_OF_PRESET["slurm"],
    "submitit_local": PLUGIN_OF_PRESET["slurm"],
}
PRESET_GROUPS = ("sweep", "launcher")
RAY_LAUNCHERS = ("RayLauncher", "MlplatRayLauncher")  # hydra-ray-launcher's and mlplat's (launcher=ray)
RAY_CONNECT_TIMEOUT_S = 3.0
# Optuna's importance evaluators by class name, as a picture names them
EVALUATOR_NAMES = {"FanovaImportanceEvaluator": "fANOVA", "PedAnovaImportanceEvaluator": "PED-ANOVA",
                   "MeanDecreaseImpurityImportanceEvaluator": "mean decrease in impurity"}


# -- what a command line will launch ------------------------------------------------------
@dataclass(frozen=True)
class SweepPlan:
    sweeper: str  # class name of the sweeper
    launcher: str  # class name of the launcher
    total: int | None  # jobs the sweep will run; None when the sweeper cannot say
    parallel: int  # jobs at once, as far as the launcher config tells
    metric: str | None  # evaluation.primary of the first job
    search_keys: tuple[str, ...] = ()
    # overrides to check before any job: a grid preset's params, Optuna probe points
    check_overrides: tuple[tuple[str, ...], ...] = field(default_factory=tuple)


def _parse(overrides: list[str]) -> list[Any]:
    # one cached parser (grammar.parser): creating one registers its grammar functions through
    # inspect.signature, ~0.5 ms, which made a 2,000-trial sweep's page spend 0.9 s creating parsers
    return grammar.parse(overrides)


def _check_presets(parsed: list[Any]) -> None:
    """Unknown sweep=/launcher= options and launcher plugins that are not installed.

    Both groups are optional in the defaults list, and Hydra silently skips a missing option
    of an optional group: without this check `launcher=rey` would run serially without a word.
    """
    for o in parsed:
        key = o.get_key_element().lstrip("+~")
        if key not in (*PRESET_GROUPS, "hydra/launcher"):
            continue
        if o.is_sweep_override() and not o.is_discrete_sweep():
            raise ConfigError(f"`{o.input_line}`: {key} takes option names, not a {grammar.sweep_kind(o)}")
        if o.is_range_sweep() or (o.is_sweep_override() and (grammar.sweep_size(o, group_options) or 0) > 1000):
            raise ConfigError(f"`{o.input_line}`: {key} takes option names: choose among "
                              f"{', '.join(group_options(key))}")
        values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]
        if key in PRESET_GROUPS:
            for value in values:
                if value not in group_options(key):
                    raise ConfigError(f"unknown {key} preset {value!r}: choose one of "
                                      f"{', '.join(group_options(key))} (files in {group_dirs(key)})")
        plugins = PLUGIN_OF_PRESET if key == "launcher" else PLUGIN_OF_HYDRA_LAUNCHER if key == "hydra/launcher" else {}
        for value in values:
            if value in plugins:
                module, extra = plugins[value]
                if importlib.util.find_spec(module) is None:
                    raise ConfigError(f"{key}={value} needs the {module.split('.')[-1].replace('_', '-')} plugin, "
                                      f"which is not installed: pip install 'mlplat[{extra}]'")


def _first_values(parsed: list[Any]) -> list[str]:
    """The overrides of the first job: sweeps reduced to their first value, search spaces dropped."""
    out = []
    for o in parsed:
        key = o.get_key_element()
        if o.is_sweep_override():
            if o.is_discrete_sweep() and o.value_type.name != "GLOB_CHOICE_SWEEP":
                first = grammar.check_values(o)[:1] if o.is_range_sweep() else \
                    [next(iter(o.sweep_string_iterator()))]  # a range: its first value, not the list
                if first:
                    out.append(f"{key}={first[0]}")
            continue
        out.append(o.input_line or f"{key}={o.get_value_element_as_str()}")
    return out


def _hydra_config(overrides: list[str]) -> Any:
    register_resolvers()
    try:
        return compose(_first_values(_parse(overrides)), return_hydra_config=True)
    except ConfigError as exc:
        text = str(exc)
        if "for config group 'hydra'" in text:  # hydra/launcher=x or hydra/sweeper=x
            raise ConfigError(f"{text.split(':')[0]}: check hydra/sweeper= and hydra/launcher= "
                              "(e.g. hydra/sweeper=mlplat_optuna, hydra/launcher=joblib) or use "
                              "the sweep= and launcher= presets") from exc
        raise


def _basic_check_overrides(sweeper_params: dict | None, overrides: list[str]) -> tuple[list[str], Any]:
    """A grid preset's params merged under the command line (which wins per key), and the job count."""
    parsed = _parse(overrides)
    given = {o.get_key_element() for o in parsed}
    merged = [f"{k}={v}" for k, v in (sweeper_params or {}).items() if k not in given] + list(overrides)
    # counted from the grammar (a range's length is arithmetic): nothing is listed to be counted
    parsed = [o for o in _parse(merged) if not o.is_hydra_override()]
    for o in parsed:
        if o.is_interval_sweep():
            raise ConfigError(f"`{o.input_line}` is a search space (interval), which the grid sweeper cannot "
                              "run: give values (a,b or range()), or use an Optuna sweep (e.g. sweep=logreg_optuna)")
    total = grammar.count_jobs(parsed, group_options)
    return merged, int(total) if total is not None and math.isfinite(total) else total


def _optuna_probes(sweeper: Any, overrides: list[str]) -> tuple[list[list[str]], tuple[str, ...]]:
    """Override sets (one sampled point per categorical choice) that cover every searched key.

    The sweeper composes these points too, but only checks that they compose; building the
    estimator from them is what catches ``model.params.n_estimatorz`` (model params are a free
    dict in the schema) before any trial runs.
    """
    # deferred: the search-space parser imports Optuna (~0.4 s, more under load), which a grid
    # sweep's pre-check (and every `mlplat train`, which loads this module) never needs
    from hydra_plugins.mlplat_optuna_sweeper._errors import SearchSpaceError
    from hydra_plugins.mlplat_optuna_sweeper._search_space import parse_search_space

    arguments = [o.input_line for o in _parse(overrides) if not o.is_hydra_override()]
    try:
        space = parse_search_space(sweeper.get("params"), arguments)
    except SearchSpaceError as exc:
        raise ConfigError(f"malformed search space: {exc}") from exc
    fixed = [a for a in arguments if not _parse([a])[0].is_sweep_override()]
    return [[*probe, *fixed] for probe in space.probe_overrides()], tuple(space.params), space


def _check_study_not_finished(cfg: Any, space: Any, metric: str | None) -> None:
    """A sweep resuming an Optuna study that already holds n_trials complete trials would run
    nothing: refused here, before a sweep is recorded, with the same line the sweeper gives."""
    # deferred with the search-space parser above (Optuna)
    from hydra_plugins.mlplat_optuna_sweeper._errors import SweeperConfigError
    from hydra_plugins.mlplat_optuna_sweeper._study import (
        complete_trials,
        derive_study_name,
        finished_message,
        load_direction_of,
        resolve_direction,
    )

    sweeper = cfg.hydra.sweeper
    storage = sweeper.get("storage")
    url = storage if isinstance(storage, str) and storage != "memory" else None
    if storage is None:
        url = OmegaConf.select(cfg, "tracking.url", default=None, throw_on_resolution_failure=False)
    n_trials = sweeper.get("n_trials")
    if not isinstance(url, str) or not url or not isinstance(n_trials, int) or n_trials < 1:
        return
    try:
        direction = resolve_direction(sweeper.get("direction"), metric, load_direction_of() if metric else None)
    except SweeperConfigError as exc:
        raise ConfigError(str(exc)) from None
    name = sweeper.get("study_name") or derive_study_name(
        OmegaConf.select(cfg, "hydra.job.config_name", default=None), direction, space,
        sweeper.get("custom_search_space"))
    done = complete_trials(resolve_sqlite_url(url), str(name))
    if done is not None and done >= n_trials:
        raise NothingToRun(finished_message(str(name), done, n_trials))


def _launcher_jobs(launcher: Any) -> int:
    n = launcher.get("n_jobs") if hasattr(launcher, "get") else None
    if n == -1:
        return os.cpu_count() or 1
    return int(n) if isinstance(n, int) and n > 0 else 1


def check_ray_address(address: Any) -> None:
    """An explicit Ray address must answer a TCP connect; 'auto' and none (local Ray) are not checked."""
    if address in (None, "", "auto", "local"):
        return
    text = str(address)
    hostport = text.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"malformed Ray address {text!r} (hydra.launcher.ray.init.address or MLPLAT_RAY_ADDRESS): "
                          "expected host:port, e.g. 10.0.0.5:6379 or ray://10.0.0.5:10001")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot reach the Ray cluster at {text} ({reason}; hydra.launcher.ray.init.address or "
                          "MLPLAT_RAY_ADDRESS): start it with `ray start --head` or fix the address") from None


@functools.lru_cache(maxsize=8)
def _plan(overrides: tuple[str, ...], context: tuple[Any, ...]) -> SweepPlan:  # noqa: ARG001 - cache key
    overrides_list = list(overrides)
    _check_presets(_parse(overrides_list))
    cfg = _hydra_config(overrides_list)
    hc = cfg.hydra
    sweeper_cls = str(hc.sweeper.get("_target_", "")).rsplit(".", 1)[-1]
    launcher_cls = str(hc.launcher.get("_target_", "")).rsplit(".", 1)[-1]
    metric = OmegaConf.select(cfg, "evaluation.primary", default=None, throw_on_resolution_failure=False)
    checks: list[list[str]] = []
    keys: tuple[str, ...] = ()
    total: int | None = None
    if sweeper_cls in BASIC_SWEEPERS:
        params = OmegaConf.to_container(hc.sweeper.params) if hc.sweeper.get("params") else None
        merged, total = _basic_check_overrides(params, overrides_list)
        checks.append(merged)
        keys = tuple(o.get_key_element() for o in _parse(merged) if o.is_sweep_override() and not o.is_hydra_override())
    elif sweeper_cls == OPTUNA_SWEEPER:
        checks, keys, space = _optuna_probes(hc.sweeper, overrides_list)
        total = int(hc.sweeper.n_trials)
        _check_study_not_finished(cfg, space, str(metric) if metric else None)
    if launcher_cls in RAY_LAUNCHERS:
        try:
            address = OmegaConf.select(hc, "launcher.ray.init.address", default=None)
        except Exception as exc:
            raise ConfigError(f"hydra.launcher.ray.init.address: {str(exc).splitlines()[0]}") from exc
        check_ray_address(address)
    return SweepPlan(sweeper=sweeper_cls, launcher=launcher_cls, total=total, parallel=_launcher_jobs(hc.launcher),
                     metric=str(metric) if metric else None, search_keys=keys,
                     check_overrides=tuple(tuple(c) for c in checks))


def plan_sweep(overrides: list[str]) -> SweepPlan:
    """What ``mlplat train -m OVERRIDES`` will launch (cached: the pre-check and the progress bar share it)."""
    # the plan also depends on the config tree and the environment its presets read
    context = (os.getcwd(), *(os.environ.get(k) for k in ("MLPLAT_CONF_DIR", "MLPLAT_RAY_ADDRESS", "MLPLAT_RAY_CPUS")))
    return _plan(tuple(overrides), context)


def check_sweep(overrides: list[str], *, multirun: bool) -> list[list[str]]:
    """Pre-check the sweep part of a `mlplat train` command line; return extra override sets to check.

    Without -m only the presets are checked (Hydra ignores sweeper and launcher then).
    """
    if not multirun:
        _check_presets(_parse(overrides))
        return []
    return [list(c) for c in plan_sweep(overrides).check_overrides if list(c) != list(overrides)]


# -- crashed runs and the Optuna link --------------------------------------------------------
def mark_stale(*, stale_after_s: float | None = None, store=None) -> dict[str, list[str]]:
    """Runs left 'running' by a killed process become 'crashed', then sweeps whose driver died
    are closed as 'crashed' (see mlplat.heartbeat): {"runs": [...], "sweeps": [...]}."""
    store = store or open_store()
    crashed = mark_stale_runs(store, stale_after_s=stale_after_s)
    return {"runs": crashed, "sweeps": mark_stale_sweeps(store, stale_after_s=stale_after_s)}


def _optuna_study_of(store: Any, sweep_id: str, name: str | None = None) -> Any:
    """The Optuna study the sweeper ran for ``sweep_id`` in the store's database, else None.

    ``name``: the study recorded on the sweep row (link_optuna_study), which wins: a later
    sweep that extends the same study must not take it away from this one."""
    import optuna  # deferred: ~0.4 s; only a sweep's end and its plot read the study

    with store.read() as conn:
        if not sa.inspect(conn).has_table("studies"):
            return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(store.url, skip_table_creation=True)
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        ran = summary.user_attrs.get("mlplat_sweep_ids") or [summary.user_attrs.get("mlplat_sweep_id")]
        if summary.study_name == name if name else sweep_id in ran:
            return optuna.load_study(study_name=summary.study_name, storage=storage)
    return None


def link_optuna_study(sweep_id: str, tracking: dict) -> str | None:
    """Record the name of the sweep's Optuna study (if it ran one in the store) on the sweep row."""
    store = open_store(tracking)
    study = _optuna_study_of(store, sweep_id)
    if study is None or study.user_attrs.get("mlplat_sweep_id") != sweep_id:
        return None  # this sweep ran no trial in a study (e.g. it was refused before the first)
    with store.write() as conn:
        conn.execute(sweeps.update().where(sweeps.c.id == sweep_id).values(optuna_study=study.study_name))
    return study.study_name


# -- pictures ------------------------------------------------------------------------------
def _trials(store: Any, sweep_id: str) -> list[dict]:
    """Every trial of a sweep with its overrides (for parameter values), in job order."""
    q = (sa.select(runs.c.id, runs.c.job_num, runs.c.status, runs.c.primary_metric, runs.c.primary_value,
                   runs.c.overrides, runs.c.started_at, runs.c.ended_at)
         .where(runs.c.sweep_id == sweep_id).order_by(sa.nulls_last(runs.c.job_num.asc()), runs.c.started_at))
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:
        r["params"] = _override_values(json.loads(r.pop("overrides") or "[]"))
    return rows


def _override_values(overrides: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for o in _parse(overrides):
        if o.is_sweep_override():
            continue
        value = o.value()
        out[o.get_key_element().lstrip("+")] = value if isinstance(value, int | float | str | bool) or value is None \
            else str(value)
    return out


def sweep_data(sweep_id: str, *, store=None) -> dict:
    """What the sweep plot shows, as plain data: trials, searched keys, direction, importances."""
    store = store or open_store()
    sweep = runs_store.get_sweep(store, sweep_id)
    trials = _trials(store, sweep["id"])
    space = json.loads(sweep["search_space"]) if sweep.get("search_space") else {}
    keys = [str(k).lstrip("+~") for k in (space or {})]  # "+key" appends; trials record the plain key
    # command-line sweeps (model=logreg,knn; x=interval(...)) are not in hydra.sweeper.params
    varying = {k for t in trials for k in t["params"] if len({json.dumps(u["params"].get(k), default=str)
                                                               for u in trials}) > 1}
    keys += sorted(varying - set(keys))
    metric = next((t["primary_metric"] for t in trials if t["primary_metric"]), None)
    importances: dict[str, float] = {}
    evaluator_name = None
    study = None
    try:
        study = _optuna_study_of(store, sweep["id"], sweep.get("optuna_study"))
    except Exception:  # Optuna tables in another format or database: the plot goes without
        study = None
    if study is not None:
        import optuna  # deferred as in _optuna_study_of

        # the evaluator is chosen here, not left to Optuna's default (fANOVA in Optuna 4,
        # PED-ANOVA in 5), so the picture can say what it computed; seeded, so it is repeatable
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        try:
            importances = dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
            evaluator_name = EVALUATOR_NAMES.get(type(evaluator).__name__, type(evaluator).__name__)
        except Exception:  # fewer than two complete trials or a single-valued parameter
            importances = {}
    return {"sweep": sweep, "trials": trials, "keys": keys, "metric": metric,
            "direction": direction_of(metric) if metric else "maximize", "importances": importances,
            "importance_evaluator": evaluator_name,
            "optuna_study": study.study_name if study is not None else None}


def sweep_plot(sweep_id: str, *, store=None) -> bytes:
    """PNG: optimisation history, each searched parameter against the metric, parameter importance."""
    return charts.sweep_png(sweep_data(sweep_id, store=store))


__all__ = ["SweepPlan", "plan_sweep", "check_sweep", "check_ray_address", "mark_stale", "link_optuna_study",
           "sweep_data", "sweep_plot", "register_resolvers"]
