"""mlplat's Optuna sweeper for Hydra (``hydra/sweeper=mlplat_optuna``).

hydra-optuna-sweeper 1.3 pins ``optuna<3`` and its storage breaks on SQLAlchemy 2, so mlplat
ships this replacement for Optuna >=4,<6. It keeps the config keys users know from the
original (``sampler``, ``direction``, ``n_trials``, ``n_jobs``, ``params``, ``storage``,
``study_name``, ``custom_search_space``) and adds what a platform needs: the direction derived
from ``evaluation.primary``, the study stored next to mlplat's runs (``tracking.url``) and
resumed when the same sweep is started again, and a failure budget (``max_failures``).

This package is imported by Hydra's plugin scan at every Hydra start, so it stays light: Optuna
is imported only when a sweep actually runs.
"""

from ._errors import SearchSpaceError, SweeperConfigError, SweeperError, TooManyFailuresError

__version__ = "0.1.0"

__all__ = [
    "SearchSpaceError",
    "SweeperConfigError",
    "SweeperError",
    "TooManyFailuresError",
    "__version__",
]
