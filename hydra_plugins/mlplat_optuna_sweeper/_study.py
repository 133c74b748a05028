"""Everything the sweeper decides before the first trial: direction, storage, name, sampler.

Each function either returns a usable value or raises a one-line
:class:`SweeperConfigError`, so a wrong sweep config never starts a study.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from ._errors import SweeperConfigError
from ._search_space import SearchSpace, one_line

log = logging.getLogger(__name__)

DIRECTIONS = ("minimize", "maximize")
_BETTER = {"minimize": "lower is better", "maximize": "higher is better"}
GRID_SAMPLER = "optuna.samplers.GridSampler"
SQLITE_TIMEOUT_S = 60


def load_direction_of() -> Callable[[str], str] | None:
    """mlplat's metric table, when mlplat is installed (the sweeper also runs without it)."""
    try:
        from mlplat.evaluation.metrics import direction_of
    except ImportError:
        return None
    return direction_of


def resolve_direction(
    explicit: str | None,
    primary: str | None,
    direction_of: Callable[[str], str] | None,
) -> str:
    """The study direction: explicit, else that of ``evaluation.primary``, else minimize.

    An explicit direction that contradicts the primary metric is an error rather than a
    preference: a sweep maximizing RMSE would run to completion and pick the worst model.
    """
    if explicit is not None and explicit not in DIRECTIONS:
        raise SweeperConfigError(
            f"hydra.sweeper.direction={explicit} is not valid: use minimize, maximize or null"
        )
    metric_direction: str | None = None
    if primary is not None and direction_of is not None:
        try:
            metric_direction = direction_of(primary)
        except Exception as exc:  # mlplat's own error for an unknown metric: say it in one line
            if explicit is None:
                raise SweeperConfigError(
                    f"cannot derive hydra.sweeper.direction from evaluation.primary={primary}: "
                    f"{one_line(str(exc))}"
                ) from None
            log.warning("evaluation.primary=%s has no known direction (%s)", primary, one_line(str(exc)))
    if explicit is None:
        return metric_direction or "minimize"
    if metric_direction is not None and explicit != metric_direction:
        raise SweeperConfigError(
            f"hydra.sweeper.direction={explicit} contradicts evaluation.primary={primary} "
            f"({_BETTER[metric_direction]}): remove direction or set it to {metric_direction}"
        )
    return explicit


def normalize_sqlite_url(url: str, cwd: str | os.PathLike[str]) -> str:
    """Make a relative SQLite path absolute against ``cwd`` and create its directory.

    SQLAlchemy resolves a relative SQLite path at connect time, against whatever the process
    cwd is then; jobs may chdir into their output directory, so the path is pinned once, to the
    directory the user started the sweep from (where mlplat's own store lives too).
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return url
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    path = Path(database)
    if not path.is_absolute():
        path = Path(cwd) / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def describe_url(url: str) -> str:
    """The URL for logs and result files, without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable storage URL>"


def resolve_storage(
    setting: Any, tracking_url: str | None, cwd: str
) -> tuple[optuna.storages.BaseStorage | None, str]:
    """The Optuna storage and a printable description of it.

    ``null`` shares mlplat's store (``tracking.url``): studies then survive the process, and
    re-running a sweep resumes it. Optuna's tables (studies, trials, version_info,
    alembic_version) do not collide with mlplat's, whose Alembic table is
    ``mlplat_alembic_version``. Only the sweeper process talks to the study (ask/tell), so
    parallel jobs never write Optuna rows; the SQLite busy timeout covers mlplat's own
    writes from those jobs.
    """
    if isinstance(setting, DictConfig):
        try:
            return instantiate(setting), f"{setting.get('_target_')}"
        except Exception as exc:
            cause = exc.__cause__ or exc
            raise SweeperConfigError(f"cannot create hydra.sweeper.storage: {one_line(str(cause))}") from None
    if setting is not None and not isinstance(setting, str):
        raise SweeperConfigError(
            f"hydra.sweeper.storage={setting!r} is not valid: use null, memory or a SQLAlchemy URL"
        )
    if setting == "memory":
        return None, "in-memory"
    url = setting if setting is not None else tracking_url
    if not url:
        return None, "in-memory"
    origin = "hydra.sweeper.storage" if setting is not None else "tracking.url"
    try:
        url = normalize_sqlite_url(url, cwd)
    except Exception as exc:
        raise SweeperConfigError(f"{origin}={url} is not a SQLAlchemy URL: {one_line(str(exc))}") from None
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except Exception as exc:
        raise SweeperConfigError(
            f"cannot open the Optuna storage {describe_url(url)} ({origin}): {one_line(str(exc))}"
        ) from None
    return storage, describe_url(url)


def derive_study_name(config_name: str | None, direction: str, space: SearchSpace, custom: str | None) -> str:
    """``mlplat-<hash>``: equal for equal sweeps, so re-running a sweep resumes its study.

    The hash covers what defines the optimization problem (app config, direction, searched
    parameters, fixed app overrides) and leaves out how it is run (n_trials, n_jobs, sampler,
    seed), so a sweep can be extended with more trials or another sampler.
    """
    payload = {
        "config_name": config_name,
        "direction": direction,
        "space": space.fingerprint(),
        "custom_search_space": custom,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return f"mlplat-{digest[:12]}"


def build_sampler(
    sampler_cfg: Any,
    seed: int | None,
    space: SearchSpace,
    n_existing_trials: int,
) -> tuple[optuna.samplers.BaseSampler, bool]:
    """Create the sampler; return it and whether it is a grid sampler.

    ``hydra.sweeper.seed`` fills in a sampler seed left null. On a resumed study the seed is
    shifted by the number of trials already there: with the same seed, the random start-up
    phase would propose the very points of the first run again.
    """
    if sampler_cfg is None:
        sampler_cfg = OmegaConf.create({"_target_": "optuna.samplers.TPESampler"})
    if not isinstance(sampler_cfg, DictConfig | Mapping) or not sampler_cfg.get("_target_"):
        raise SweeperConfigError(
            "hydra.sweeper.sampler needs a _target_: pick a preset (hydra/sweeper/sampler=tpe|random|grid|cmaes) "
            "or give the dotted path of an optuna.samplers class"
        )
    cfg = OmegaConf.create(OmegaConf.to_container(OmegaConf.create(sampler_cfg), resolve=True))
    target = str(cfg["_target_"])
    try:
        cls = get_class(target)
    except Exception:
        raise SweeperConfigError(
            f"unknown sampler hydra.sweeper.sampler._target_={target}: use a preset "
            "(hydra/sweeper/sampler=tpe|random|grid|cmaes) or an importable optuna.samplers class"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, optuna.samplers.BaseSampler)):
        raise SweeperConfigError(
            f"hydra.sweeper.sampler._target_={target} is not an optuna.samplers.BaseSampler subclass"
        )
    if issubclass(cls, optuna.samplers.CmaEsSampler) and importlib.util.find_spec("cmaes") is None:
        raise SweeperConfigError("the cmaes sampler needs the cmaes package: pip install cmaes")

    accepts_seed = "seed" in inspect.signature(cls).parameters
    kwargs: dict[str, Any] = {}
    if accepts_seed:
        effective = cfg.get("seed") if cfg.get("seed") is not None else seed
        if effective is not None and n_existing_trials:
            effective = int(effective) + n_existing_trials
            log.info(
                "Resumed study: sampler seed shifted to %d so that earlier points are not repeated", effective
            )
        kwargs["seed"] = effective
    elif seed is not None:
        log.warning("Sampler %s takes no seed: hydra.sweeper.seed=%s is ignored", target, seed)
    is_grid = issubclass(cls, optuna.samplers.GridSampler)
    if is_grid:
        kwargs["search_space"] = space.grid()
    try:
        # _convert_=all: samplers get plain lists and dicts (GridSampler checks value types)
        sampler = instantiate(cfg, _convert_="all", **kwargs)
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise SweeperConfigError(f"cannot create sampler {target}: {one_line(str(cause))}") from None
    return sampler, is_grid


def finished_message(study_name: str, n_complete: int, target: int) -> str:
    """One line for a sweep whose study already holds every trial it asks for."""
    return (f"Optuna study {study_name} already has {n_complete} complete trials (hydra.sweeper.n_trials={target}): "
            f"nothing to run. Raise hydra.sweeper.n_trials to extend it, or start a new study with "
            f"hydra.sweeper.study_name=<a new name>")


def complete_trials(url: str, study_name: str) -> int | None:
    """Complete trials of ``study_name`` in the database at ``url``; None when there is no such study.

    Reads only: a SQLite file that does not exist is not created, Optuna's tables are not created.
    """
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:" or not Path(database).is_file():
            return None
    try:
        storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
        study_id = storage.get_study_id_from_name(study_name)
    except Exception:  # no Optuna tables yet, or no such study
        return None
    trials = storage.get_all_trials(study_id, deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return len(trials)
