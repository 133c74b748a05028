"""The sweep loop: ask Optuna for a batch, launch it through Hydra's launcher, tell the results.

Only this process talks to the Optuna storage. Jobs, wherever the launcher runs them (in
process, joblib workers, a cluster), just return a number; so parallel trials never contend
for Optuna's tables, even on SQLite.

Kept out of the plugin scan (leading underscore): importing Optuna costs a noticeable part of
a second, which every Hydra start would otherwise pay.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial, Trial, TrialState

from ._errors import SearchSpaceError, SweeperConfigError, TooManyFailuresError
from ._search_space import SearchSpace, one_line, parse_search_space
from ._study import (
    build_sampler,
    derive_study_name,
    finished_message,
    load_direction_of,
    resolve_direction,
    resolve_storage,
)

log = logging.getLogger("hydra_plugins.mlplat_optuna_sweeper")

SWEEP_ID_ENV = "MLPLAT_INVOCATION_ID"
RESULTS_FILE = "optimization_results.yaml"
_FINISHED = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)


def _select_str(config: DictConfig, key: str) -> str | None:
    """A string setting of the app config, or None when absent, null or unresolvable."""
    value = OmegaConf.select(config, key, default=None, throw_on_resolution_failure=False)
    return value if isinstance(value, str) and value else None


def objective_value(ret: JobReturn, primary: str | None) -> tuple[float | None, str | None]:
    """The trial's value, or None and the reason the trial counts as failed.

    A job may return a number or a mapping holding ``evaluation.primary``; anything that is
    not a finite number (an exception, None, NaN, inf, a string) fails the trial, since
    telling Optuna a NaN would poison the sampler's model of the objective.
    """
    try:
        value = ret.return_value
    except Exception as exc:  # the job raised: JobReturn re-raises it here
        return None, f"raised {type(exc).__name__}: {one_line(str(exc))}"
    if isinstance(value, Mapping):
        if primary is None or primary not in value:
            return None, f"returned a mapping without the primary metric {primary!r}"
        value = value[primary]
    if value is None or isinstance(value, bool):
        return None, f"returned {value!r}, not a number"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, f"returned {value!r}, not a number"
    if not math.isfinite(number):
        return None, f"returned {number}"
    return number, None


class MlplatOptunaSweeperImpl:
    """State and logic of one sweep; see :class:`..optuna_sweeper.MlplatOptunaSweeper`."""

    def __init__(
        self,
        *,
        sampler: Any,
        direction: str | None,
        n_trials: int,
        n_jobs: int | None,
        params: DictConfig | Mapping[str, Any] | None,
        seed: int | None,
        storage: Any,
        study_name: str | None,
        max_failures: int,
        custom_search_space: str | None,
    ) -> None:
        self.sampler_cfg = sampler
        self.direction = direction
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.params = params
        self.seed = seed
        self.storage = storage
        self.study_name = study_name
        self.max_failures = max_failures
        self.custom_search_space = custom_search_space
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Launcher | None = None
        self.study: optuna.Study | None = None
        self.job_returns: list[JobReturn] = []
        self.job_idx = 0
        self.cwd = os.getcwd()

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.job_idx = 0
        # the directory the user started from: relative sqlite paths in storage are taken from here
        self.cwd = os.getcwd()
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )

    # ----------------------------------------------------------------- checks before the study

    def _check_settings(self) -> None:
        if not isinstance(self.n_trials, int) or self.n_trials < 0:
            raise SweeperConfigError(
                f"hydra.sweeper.n_trials={self.n_trials} is not valid: use an integer >= 0"
            )
        if self.n_jobs is not None and (not isinstance(self.n_jobs, int) or self.n_jobs < 1):
            raise SweeperConfigError(
                f"hydra.sweeper.n_jobs={self.n_jobs} is not valid: use an integer >= 1 or null"
            )
        if not isinstance(self.max_failures, int) or self.max_failures < 0:
            raise SweeperConfigError(
                f"hydra.sweeper.max_failures={self.max_failures} is not valid: use an integer >= 0"
            )

    def _custom_extender(self) -> Callable[[DictConfig, Trial], None] | None:
        if not self.custom_search_space:
            return None
        try:
            return get_method(self.custom_search_space)
        except Exception:
            raise SweeperConfigError(
                f"hydra.sweeper.custom_search_space={self.custom_search_space} is not an importable function"
            ) from None

    def _check_against_app_config(self, space: SearchSpace) -> None:
        """Compose the app config with sample values: bad keys fail here, not in trial 0."""
        assert self.hydra_context is not None and self.config is not None
        seen: set[tuple[str, ...]] = set()
        for probe in space.probe_overrides():
            if tuple(probe) in seen:
                continue
            seen.add(tuple(probe))
            try:
                self.hydra_context.config_loader.load_sweep_config(
                    master_config=self.config, sweep_overrides=probe
                )
            except Exception as exc:
                raise SearchSpaceError(
                    f"the search space does not fit the app config: {one_line(str(exc))}"
                ) from None

    def _batch_size(self) -> int:
        """``n_jobs``, else the launcher's parallelism: a batch smaller than it idles workers."""
        if self.n_jobs is not None:
            return self.n_jobs
        assert self.config is not None
        launcher_jobs = OmegaConf.select(self.config, "hydra.launcher.n_jobs", default=None)
        if isinstance(launcher_jobs, int) and launcher_jobs > 0:
            return launcher_jobs
        if launcher_jobs == -1:
            return os.cpu_count() or 1
        return 1

    # -------------------------------------------------------------------------------- the sweep

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        assert self.config is not None and self.launcher is not None
        self._check_settings()
        extender = self._custom_extender()
        space = parse_search_space(self.params, arguments)
        if not space.params and extender is None:
            raise SearchSpaceError(
                "nothing to search: declare hydra.sweeper.params or a sweep override such as x=interval(0, 1)"
            )
        primary = _select_str(self.config, "evaluation.primary")
        direction = resolve_direction(self.direction, primary, load_direction_of() if primary else None)
        self._check_against_app_config(space)

        storage, storage_desc = resolve_storage(
            self.storage, _select_str(self.config, "tracking.url"), self.cwd
        )
        study_name = self.study_name or derive_study_name(
            OmegaConf.select(self.config, "hydra.job.config_name", default=None),
            direction,
            space,
            self.custom_search_space,
        )
        previous_verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweeper reports progress itself
        try:
            self._optimize(space, extender, primary, direction, storage, storage_desc, study_name)
        finally:
            optuna.logging.set_verbosity(previous_verbosity)
        return self.job_returns

    def _optimize(
        self,
        space: SearchSpace,
        extender: Callable[[DictConfig, Trial], None] | None,
        primary: str | None,
        direction: str,
        storage: optuna.storages.BaseStorage | None,
        storage_desc: str,
        study_name: str,
    ) -> None:
        existing = _existing_trials(storage, study_name)
        sampler, is_grid = build_sampler(self.sampler_cfg, self.seed, space, len(existing))
        study = optuna.create_study(
            study_name=study_name, storage=storage, sampler=sampler, direction=direction, load_if_exists=True
        )
        if study.direction.name.lower() != direction:
            raise SweeperConfigError(
                f"study {study_name} in {storage_desc} was created to {study.direction.name.lower()}, "
                f"but this sweep would {direction}: set another hydra.sweeper.study_name"
            )
        self.study = study
        target = self.n_trials
        grid_size: int | None = None
        if is_grid:
            grid_size = math.prod(len(v) for v in space.grid().values())
            if grid_size < target:
                log.info("Grid sampler: n_trials capped at the grid size, %d", grid_size)
            target = min(target, grid_size)
        n_complete = _count(study, TrialState.COMPLETE)
        if existing and target and n_complete >= target:
            # nothing to run: say so, and leave the study (and the sweep it belongs to) as it is
            raise SweeperConfigError(finished_message(study_name, n_complete, self.n_trials))
        sweep_id = os.environ.get(SWEEP_ID_ENV)
        if sweep_id:
            # the newest sweep that ran trials in it; every such sweep stays listed
            ids = [*study.user_attrs.get("mlplat_sweep_ids", []), sweep_id]
            study.set_user_attr("mlplat_sweep_ids", list(dict.fromkeys(ids)))
            study.set_user_attr("mlplat_sweep_id", sweep_id)
        stale = _count(study, TrialState.RUNNING)
        if stale:
            log.warning(
                "Study %s holds %d RUNNING trial(s) of an interrupted sweep; they are ignored",
                study_name,
                stale,
            )
        log.info(
            "%s study %s (%s, %s, sampler %s): %d/%d trials complete, batches of %d",
            "Resuming" if existing else "New",
            study_name,
            storage_desc,
            direction,
            type(sampler).__name__,
            n_complete,
            target,
            self._batch_size(),
        )

        try:
            self._run(study, space, extender, primary, target, grid_size, sweep_id)
        finally:
            self._write_results(study, storage_desc, direction)

    def _run(
        self,
        study: optuna.Study,
        space: SearchSpace,
        extender: Callable[[DictConfig, Trial], None] | None,
        primary: str | None,
        target: int,
        grid_size: int | None,
        sweep_id: str | None,
    ) -> None:
        assert self.launcher is not None and self.config is not None
        is_grid = grid_size is not None
        batch_size = self._batch_size()
        distributions = space.distributions
        failures = 0
        batch_no = 0
        n_complete = _count(study, TrialState.COMPLETE)
        while n_complete < target:
            size = min(batch_size, target - n_complete)
            if grid_size is not None:
                size = min(size, _unvisited_grid_points(study, grid_size))
                if size <= 0:
                    break
            batch_no += 1
            trials = [study.ask(fixed_distributions=distributions) for _ in range(size)]
            try:
                overrides = self._configure(trials, space, extender, sweep_id)
                returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            except BaseException:
                # a broken launcher or Ctrl-C: leave no RUNNING trials behind in the storage
                for trial in trials:
                    _tell(study, trial, TrialState.FAIL, None, is_grid)
                raise
            self.job_idx += len(returns)
            self.job_returns.extend(returns)
            last_failure = ""
            values: list[str] = []
            for trial, ret in zip(trials, returns, strict=True):
                value, reason = objective_value(ret, primary)
                if reason is not None:
                    failures += 1
                    last_failure = f"trial {trial.number} {reason}"
                    log.warning("Trial %d failed: %s (params %s)", trial.number, reason, trial.params)
                    _tell(study, trial, TrialState.FAIL, None, is_grid)
                    values.append("failed")
                else:
                    log.debug("Trial %d: value %.6g (params %s)", trial.number, value, trial.params)
                    _tell(study, trial, TrialState.COMPLETE, value, is_grid)
                    values.append(f"{value:.6g}")
            n_complete = _count(study, TrialState.COMPLETE)
            self._report(study, batch_no, values, n_complete, target, failures)
            if failures > self.max_failures:
                raise TooManyFailuresError(
                    f"sweep stopped: {failures} trials failed, more than hydra.sweeper.max_failures="
                    f"{self.max_failures} ({n_complete}/{target} complete; last: {last_failure}); "
                    "fix the failing runs or raise hydra.sweeper.max_failures"
                )

    def _configure(
        self,
        trials: Sequence[Trial],
        space: SearchSpace,
        extender: Callable[[DictConfig, Trial], None] | None,
        sweep_id: str | None,
    ) -> list[list[str]]:
        """The override list of each trial, recorded on the trial for later lookup."""
        assert self.config is not None
        batch = []
        for i, trial in enumerate(trials):
            if extender is not None:
                extender(self.config, trial)
            overlap = set(trial.params) & set(space.fixed)
            if overlap:
                raise SearchSpaceError(
                    f"custom_search_space suggests {', '.join(sorted(overlap))}, which the sweep also fixes"
                )
            overrides = space.overrides(trial.params)
            trial.set_user_attr("overrides", overrides)
            trial.set_user_attr("hydra_job_num", self.job_idx + i)
            if sweep_id:
                trial.set_user_attr("mlplat_sweep_id", sweep_id)
            batch.append(overrides)
        return batch

    def _report(
        self,
        study: optuna.Study,
        batch_no: int,
        values: list[str],
        n_complete: int,
        target: int,
        failures: int,
    ) -> None:
        """One INFO line per batch; ``extra["mlplat_progress"]`` carries the same as data.

        A logging handler (mlplat's progress bar) can pick the structured record up without
        parsing the message.
        """
        best = _best_trial(study)
        progress = {
            "study_name": study.study_name,
            "batch": batch_no,
            "batch_values": values,
            "complete": n_complete,
            "target": target,
            "failed": failures,
            "max_failures": self.max_failures,
            "best_value": best.value if best else None,
            "best_params": dict(best.params) if best else None,
            "best_trial": best.number if best else None,
        }
        best_text = (
            f"best {best.value:.6g} (trial {best.number}, {best.params})" if best else "no complete trial yet"
        )
        log.info(
            "Batch %d done [%s]: %d/%d complete, %d failed (max_failures=%d); %s",
            batch_no,
            ", ".join(values),
            n_complete,
            target,
            failures,
            self.max_failures,
            best_text,
            extra={"mlplat_progress": progress},
        )

    def _write_results(self, study: optuna.Study, storage_desc: str, direction: str) -> None:
        """``optimization_results.yaml`` in the sweep dir, as hydra-optuna-sweeper writes it."""
        assert self.config is not None
        best = _best_trial(study)
        results = {
            "name": "optuna",
            "study_name": study.study_name,
            "storage": storage_desc,
            "direction": direction,
            "best_params": dict(best.params) if best else None,
            "best_value": best.value if best else None,
            "best_trial": best.number if best else None,
            "best_overrides": best.user_attrs.get("overrides") if best else None,
            "n_complete": _count(study, TrialState.COMPLETE),
            "n_failed": _count(study, TrialState.FAIL),
        }
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(OmegaConf.create(results), sweep_dir / RESULTS_FILE)
        if best:
            log.info("Best value %.6g at trial %d: %s", best.value, best.number, best.params)


def _existing_trials(storage: optuna.storages.BaseStorage | None, study_name: str) -> list[FrozenTrial]:
    if storage is None:
        return []
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return []
    return storage.get_all_trials(study_id, deepcopy=False)


def _count(study: optuna.Study, state: TrialState) -> int:
    return len(study.get_trials(deepcopy=False, states=(state,)))


def _best_trial(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no complete trial
        return None


def _unvisited_grid_points(study: optuna.Study, grid_size: int) -> int:
    """Grid points neither finished nor running: the grid sampler's own notion of 'visited'."""
    visited = {
        t.system_attrs.get("grid_id")
        for t in study.get_trials(deepcopy=False, states=(*_FINISHED, TrialState.RUNNING))
    }
    visited.discard(None)
    return grid_size - len(visited)


def _tell(study: optuna.Study, trial: Trial, state: TrialState, value: float | None, is_grid: bool) -> None:
    try:
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state, skip_if_finished=True)
    except RuntimeError as exc:
        # GridSampler calls study.stop() after the last grid point, which raises outside
        # study.optimize(); the trial's state is stored before that (optuna's _tell finally).
        if not (is_grid and "Study.stop" in str(exc)):
            raise
