"""Structured configs for ``hydra/sweeper=mlplat_optuna`` and its sampler presets.

The keys mirror hydra-optuna-sweeper's so existing sweep configs port by changing one line
(``override /hydra/sweeper: mlplat_optuna``). The defaults are chosen for mlplat: the
direction and the storage are taken from the app config when left null, so a sweep preset
usually only declares ``params``.
"""

# No ``from __future__ import annotations`` here: Hydra's plugin scan executes this module
# before registering it in sys.modules, and dataclasses cannot resolve string annotations then.
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

SWEEPER_TARGET = "hydra_plugins.mlplat_optuna_sweeper.optuna_sweeper.MlplatOptunaSweeper"


@dataclass
class SamplerConfig:
    """Any ``optuna.samplers.BaseSampler`` subclass, created by the sweeper (not by Hydra).

    The sweeper creates it itself so it can pass the grid's search space, apply
    ``hydra.sweeper.seed`` and turn a wrong ``_target_`` into a one-line error.
    """

    _target_: str = MISSING
    seed: int | None = None


@dataclass
class TPESamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.TPESampler.html

    Only arguments that are not deprecated in Optuna 4.x/5.x are listed, so the preset never
    triggers a FutureWarning; ``constant_liar`` keeps parallel batches (n_jobs > 1) from
    proposing the same point twice.
    """

    _target_: str = "optuna.samplers.TPESampler"
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool | None = None
    group: bool = False
    constant_liar: bool = True


@dataclass
class RandomSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.RandomSampler.html"""

    _target_: str = "optuna.samplers.RandomSampler"


@dataclass
class GridSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.GridSampler.html

    The grid is built from ``hydra.sweeper.params``: every parameter must be discrete
    (``choice``, ``range``, an int interval, or a float with ``step``); ``n_trials`` is capped
    at the grid size.
    """

    _target_: str = "optuna.samplers.GridSampler"


@dataclass
class CmaEsSamplerConfig(SamplerConfig):
    """https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.CmaEsSampler.html

    Needs the ``cmaes`` package (``pip install cmaes``); the sweeper checks before any trial.
    """

    _target_: str = "optuna.samplers.CmaEsSampler"
    sigma0: float | None = None
    n_startup_trials: int = 1
    popsize: int | None = None
    use_separable_cma: bool = False
    with_margin: bool = False
    lr_adapt: bool = False
    consider_pruned_trials: bool = False


@dataclass
class MlplatOptunaSweeperConf:
    """``hydra.sweeper`` when ``hydra/sweeper=mlplat_optuna`` is selected."""

    _target_: str = SWEEPER_TARGET
    # Hydra must hand the sampler and params over as configs: the sweeper builds the sampler
    # after it has parsed the search space (the grid sampler needs it).
    _recursive_: bool = False
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}])

    # An Optuna sampler config with _target_ (presets: tpe, random, grid, cmaes).
    sampler: Any = MISSING

    # minimize | maximize | null. null: the direction of the app's evaluation.primary metric
    # (mlplat.evaluation.metrics.direction_of), or minimize when there is none.
    direction: str | None = None

    # Number of COMPLETE trials the study should hold when the sweep ends. Trials already
    # complete in a resumed study count; failed trials do not.
    n_trials: int = 20

    # Trials asked from Optuna per batch and handed to the launcher at once. null: the
    # launcher's own n_jobs when it has one (joblib), else 1.
    n_jobs: int | None = None

    # Search space, in Hydra's override grammar (interval, tag(log, ...), int(...), choice,
    # range) or as {type: float|int|categorical, low, high, log, step, choices}.
    # (An empty dict rather than null so that +hydra.sweeper.params.NAME=... works.)
    params: dict[str, Any] | None = field(default_factory=dict)

    # Seed for the sampler, used when the sampler config sets no seed of its own.
    seed: int | None = None

    # null: the app's tracking.url (mlplat's store) when set, else in memory. "memory": in
    # memory even when tracking.url is set. A SQLAlchemy URL; a relative sqlite path is taken
    # relative to the directory the sweep was started from.
    storage: Any = None

    # null: "mlplat-" + a hash of the app config name, direction, search space and app
    # overrides, so that starting the same sweep command again resumes the same study.
    study_name: str | None = None

    # Failed trials (raised, or returned None/NaN/inf/non-numeric) tolerated per sweep
    # invocation; one more stops the sweep with an error.
    max_failures: int = 3

    # Dotted path to a function (cfg: DictConfig, trial: optuna.Trial) -> None that suggests
    # extra parameters; each becomes an override "name=value" of the trial.
    custom_search_space: str | None = None


_PROVIDER = "mlplat_optuna_sweeper"

_cs = ConfigStore.instance()
_cs.store(group="hydra/sweeper", name="mlplat_optuna", node=MlplatOptunaSweeperConf, provider=_PROVIDER)
for _name, _node in (
    ("tpe", TPESamplerConfig),
    ("random", RandomSamplerConfig),
    ("grid", GridSamplerConfig),
    ("cmaes", CmaEsSamplerConfig),
):
    _cs.store(group="hydra/sweeper/sampler", name=_name, node=_node, provider=_PROVIDER)
