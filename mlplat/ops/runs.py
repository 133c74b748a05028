"""Operations on experiments, runs, sweeps and leaderboards."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from typing import Any

from mlplat.errors import ConfigError


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


# -- config and store ----------------------------------------------------------------
def compose_plain(overrides: list[str] | None = None) -> dict:
    from mlplat.config.compose import compose, to_plain

    return to_plain(compose(overrides))


def open_store(tracking: dict | None = None, *, url: str | None = None, create: bool | None = None):
    """The store named by ``url``, else the tracking config (composed when not given).

    MLPLAT_STORE_URL / MLPLAT_ARTIFACTS are the defaults of tracking.url / tracking.artifacts
    in conf/tracking/local.yaml, so they apply to every command alike; an explicit
    ``tracking.url=...`` override or ``--store`` wins over them. Relative paths start at
    the project root. A store is created only by a caller that writes runs (``create=True``:
    training, logging a run); given only a URL or no tracking node (a read), a missing SQLite
    file is "no store at <path>", never a new empty store.
    """
    from mlplat.project import resolve_sqlite_url
    from mlplat.tracking.store import Store

    if create is None:
        create = tracking is not None and url is None
    if tracking is None:
        tracking = _default_tracking()
    target = resolve_sqlite_url(url) if url else str(tracking["url"])
    if not create:
        _require_existing(target)
    return Store.open(target, str(tracking["artifacts"]))


def _require_existing(url: str) -> None:
    from pathlib import Path

    from mlplat.errors import NoStore
    from mlplat.project import find_project

    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return
    path = Path(url[len(prefix):].partition("?")[0])
    if not path.is_file():
        project = find_project()
        where = "" if project.root is not None else f" ({project.where()})"
        raise NoStore(f"no store at {path}: run `mlplat train` first, or pass --store{where}")


def _default_tracking() -> dict:
    # read-only commands need only tracking.*: read it directly when that is certain to give
    # what composing would (composing the whole tree costs most of a command's 0.5 s budget)
    from mlplat.config.compose import config_dirs
    from mlplat.project import resolve_tracking
    from mlplat.tracking.defaults import default_tracking

    cheap = default_tracking(config_dirs())
    return resolve_tracking(cheap) if cheap is not None else compose_plain([])["tracking"]


def _parse(overrides: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise ConfigError(f"malformed override: {str(exc).strip().splitlines()[0]}") from exc


def _is_group(key: str) -> bool:
    from mlplat.config.compose import is_group

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
            strings = list(o.sweep_string_iterator())
            base.append(f"{key}={strings[0]}")
            if _is_group(key):
                group_choices.append((len(base) - 1, [f"{key}={v}" for v in strings]))
            else:
                value_sweeps.append((key.lstrip("+"), list(o.sweep_iterator())))
            continue
        base.append(o.input_line or f"{key}={o.get_value_element_as_str()}")
    combos = [base]
    for idx, alternatives in group_choices:
        for alt in alternatives[1:]:
            combos.append([*base[:idx], alt, *base[idx + 1:]])
    return combos, value_sweeps


def check_config(plain: dict) -> None:
    """Checks that need the resolved config but no data: targets, params, metrics, files."""
    from mlplat.evaluation.metrics import metrics_for
    from mlplat.models.build import build_estimator

    dataset = plain["dataset"]
    task = str(dataset["task"])
    metrics_for(task, plain["evaluation"].get("metrics"), plain["evaluation"]["primary"])
    build_estimator(plain["model"], task, plain["seed"], 1,
                    allowed=(plain.get("runtime") or {}).get("allowed_modules"))
    if dataset["source"] in ("csv", "parquet") and dataset.get("path"):
        from mlplat.data.sources import _local_path

        _local_path(dataset)  # a missing file fails here, before any job starts
    from mlplat.data.sources import check_rows

    check_rows(dataset)  # filter expression and column names, before any job starts
    if not 0 <= float(plain["evaluation"]["test_size"]) < 1:
        raise ConfigError(f"evaluation.test_size={plain['evaluation']['test_size']} must be in [0, 1)")
    if int(plain["evaluation"]["cv"]["folds"]) < 2:
        raise ConfigError(f"evaluation.cv.folds={plain['evaluation']['cv']['folds']} must be at least 2")


def check_train_overrides(overrides: list[str], *, multirun: bool = False, store: bool = True) -> dict:
    """Compose and check every value a `mlplat train` command line will run, before any job.

    Returns the first job's resolved config; also opens (and migrates) its store so an
    unreachable store fails here, once, instead of in every job. With ``multirun`` the sweep
    is checked too (presets, launcher plugin and address, search space keys and values).
    """
    from omegaconf import OmegaConf

    from mlplat.config.compose import compose, to_plain, translate
    from mlplat.ops.sweeps import check_sweep

    extra = check_sweep(overrides, multirun=multirun)  # override sets only the sweep config reveals
    combos, value_sweeps = _expand(overrides)
    first = None
    for combo in combos:
        cfg = compose(combo)
        plain = to_plain(cfg)
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
    for more in extra:
        check_train_overrides(more, store=store)
    if store:  # (not for `--cfg`, which must create nothing)
        open_store(first["tracking"])
    os.environ["MLPLAT_PRECHECKED"] = "1"  # lets the sweeper skip composing every job twice
    return first


# -- runs and sweeps -----------------------------------------------------------------
def run_experiment(plain: dict, ctx) -> Any:
    from mlplat.engine import run_experiment as engine_run

    return engine_run(plain, ctx, store=open_store(plain["tracking"]))


def rerun(ref: str, *, actor: str | None = None, source: str = "cli", threads: int | None = None) -> Any:
    """Run a stored run's resolved config again (same data, seed, folds): its metrics reproduce."""
    import uuid

    from mlplat.engine import RunContext

    stored = show_run(ref)
    if (stored.get("config") or {}).get("logged"):
        raise ConfigError(f"run {stored['id']} was recorded with mlplat.log_run (trained outside mlplat): there is "
                          "no config to run again; re-run your own training code")
    ctx = RunContext(actor=actor or os_user(), source=source, overrides=[f"rerun_of={stored['id']}"],
                     invocation_id=uuid.uuid4().hex[:16], threads=threads)
    return run_experiment(stored["config"], ctx)


def open_sweep(plain: dict, sweep_id: str, *, command: str, actor: str | None = None, source: str = "cli"):
    from mlplat.tracking import runs

    store = open_store(plain["tracking"])
    runs.create_sweep(store, sweep_id, command=command, actor=actor or os_user(), source=source,
                      experiment=plain["name"])
    return store


def describe_sweep_from_hydra(plain: dict, hc: Any, sweep_id: str) -> None:
    from omegaconf import OmegaConf

    from mlplat.tracking import runs

    sweeper = hc.sweeper
    params = sweeper.get("params") if "params" in sweeper else None
    space = OmegaConf.to_container(params, resolve=False) if OmegaConf.is_config(params) else (params or {})
    runs.describe_sweep(open_store(plain["tracking"]), sweep_id, sweeper=str(sweeper.get("_target_", "")),
                        launcher=str(hc.launcher.get("_target_", "")), search_space=space, experiment=plain["name"])


def finish_invocation(invocation_id: str, tracking: dict, *, multirun: bool, actor: str | None = None,
                      source: str = "cli", registry: dict | None = None) -> dict:
    """After Hydra returns: mark jobs that never finished as crashed, close the sweep, count,
    and register the sweep's best run when conf/registry asks for it (as a candidate:
    promotion still needs its gates and approvals)."""

    from mlplat.tracking import runs as runs_store

    store = open_store(tracking)
    runs_store.mark_crashed(store, invocation_id)
    rows = runs_store.runs_of_invocation(store, invocation_id)
    registered = None
    if multirun:
        closed = runs_store.close_sweep(store, invocation_id, actor=actor or os_user(), source=source)
        if closed.get("best_run_id") and registry is not None and (registry.get("auto_register") or {}).get("enabled"):
            from mlplat.errors import MlplatError
            from mlplat.ops.registry import register_best_of_sweep

            try:
                registered = register_best_of_sweep(invocation_id, actor=actor or os_user(), source=source,
                                                    store=store, policy=registry)
            except MlplatError as exc:  # the sweep's results stand even if registration is refused
                import logging

                logging.getLogger("mlplat").error("auto-registration of sweep %s failed: %s", invocation_id, exc)
    failed = [r for r in rows if r["status"] != "done"]
    return {"total": len(rows), "failed": len(failed), "done": len(rows) - len(failed), "runs": rows,
            "registered": registered}


def _rows(query, *, store, url: str | None) -> list[dict]:
    """The rows of ``query`` (tracking.queries): given no open ``store``, straight over the
    database driver (the store at ``url``, else the config's tracking.url), so a one-shot
    command never imports SQLAlchemy; when that path is not certain to answer (see
    tracking.direct), through the Store, which runs the same SQL."""
    from mlplat.tracking import direct

    if store is None:
        rows = direct.read_rows(url or str(_default_tracking()["url"]), query)
        if rows is not None:
            return rows
        store = open_store(url=url)
    from mlplat.tracking import runs  # SQLAlchemy: only on the Store's path

    return runs.query_rows(store, query)


def leaderboard(*, metric: str | None = None, stage: str = "cv", filters: dict | None = None,
                since: float | None = None, top: int = 10, store=None, url: str | None = None) -> dict:
    """Runs ranked by ``metric``: {metric, direction, rows} (read as _rows says)."""
    from functools import partial

    from mlplat.evaluation.metrics import DEFAULT_PRIMARY, get_metric
    from mlplat.tracking import queries

    if metric is None:
        metric = DEFAULT_PRIMARY["classification"]
    m = get_metric(metric)
    if top < 1:
        raise ConfigError(f"--top must be at least 1 (got {top})")
    rows = _rows(partial(queries.leaderboard, metric=metric, greater_is_better=m.greater_is_better, stage=stage,
                         filters=filters, since=since, top=top), store=store, url=url)
    return {"metric": metric, "direction": m.direction,
            "rows": queries.ranked(rows, metric=metric, direction=m.direction)}


def list_runs(*, filters: dict | None = None, since: float | None = None, page: int = 1, page_size: int = 20,
              store=None, url: str | None = None) -> list[dict]:
    """One page of runs, newest first (read as _rows says)."""
    from functools import partial

    from mlplat.tracking import queries

    queries.check_page(page, page_size)
    return _rows(partial(queries.list_runs, filters=filters, since=since, limit=page_size,
                         offset=(page - 1) * page_size), store=store, url=url)


def iter_runs(*, filters: dict | None = None, since: float | None = None, store=None) -> Iterable[dict]:
    """Every matching run, newest first, read in batches: for streaming a whole listing."""
    from mlplat.tracking import runs

    return runs.iter_runs(store or open_store(), filters=filters, since=since)


def show_run(ref: str, *, store=None) -> dict:
    from mlplat.tracking import runs

    return runs.get_run(store or open_store(), ref)


def list_sweeps(*, page: int = 1, page_size: int = 20, store=None) -> list[dict]:
    from mlplat.tracking import runs

    return runs.list_sweeps(store or open_store(), page=page, page_size=page_size)


def show_sweep(ref: str, *, page: int = 1, page_size: int = 100, store=None) -> dict:
    """One sweep and one page of its trials in job order (a sweep can have thousands)."""
    from mlplat.tracking import runs

    store = store or open_store()
    sweep = runs.get_sweep(store, ref)
    sweep["trials"] = runs.sweep_trials(store, sweep["id"], page=page, page_size=page_size)
    sweep["page"], sweep["page_size"] = page, page_size
    return sweep


__all__ = ["os_user", "compose_plain", "open_store", "check_config", "check_train_overrides", "run_experiment",
           "open_sweep", "describe_sweep_from_hydra", "finish_invocation", "leaderboard", "list_runs", "iter_runs", "show_run",
           "list_sweeps", "show_sweep", "rerun"]
