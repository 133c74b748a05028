"""The Hydra Sweeper plugin class, ``hydra/sweeper=mlplat_optuna``.

Hydra's plugin scan imports this module at every start of every Hydra app, so it only defines
the class; Optuna and the sweep logic (``_impl``) are imported when Hydra instantiates the
sweeper, i.e. only for ``--multirun`` with this sweeper selected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

if TYPE_CHECKING:
    import optuna
    from hydra.core.utils import JobReturn


class MlplatOptunaSweeper(Sweeper):
    """Hyperparameter search with Optuna (>=4,<6) for Hydra multiruns.

    Configured by :class:`.config.MlplatOptunaSweeperConf`. After :meth:`sweep`, ``study``
    holds the Optuna study and ``job_returns`` the JobReturn of every launched trial.
    """

    def __init__(
        self,
        sampler: Any,
        direction: str | None,
        n_trials: int,
        n_jobs: int | None,
        params: DictConfig | None,
        seed: int | None,
        storage: Any,
        study_name: str | None,
        max_failures: int,
        custom_search_space: str | None,
    ) -> None:
        from ._impl import MlplatOptunaSweeperImpl

        self._impl = MlplatOptunaSweeperImpl(
            sampler=sampler,
            direction=direction,
            n_trials=n_trials,
            n_jobs=n_jobs,
            params=params,
            seed=seed,
            storage=storage,
            study_name=study_name,
            max_failures=max_failures,
            custom_search_space=custom_search_space,
        )
        self.hydra_context = None
        self.config = None
        self.launcher = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self._impl.setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = self._impl.launcher

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        """Run the study; return the JobReturn of every trial launched by this call."""
        return self._impl.sweep(arguments)

    @property
    def study(self) -> optuna.Study | None:
        """The Optuna study of the last :meth:`sweep` (None before)."""
        return self._impl.study

    @property
    def job_returns(self) -> list[JobReturn]:
        return self._impl.job_returns
