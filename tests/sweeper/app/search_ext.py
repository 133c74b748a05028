"""A ``custom_search_space`` function for the tests: suggests what the grammar cannot say.

Here ``y``'s range depends on nothing fancy, but it is suggested in code, which is the point.
"""

from __future__ import annotations

import optuna
from omegaconf import DictConfig


def extend(cfg: DictConfig, trial: optuna.Trial) -> None:
    trial.suggest_float("y", -1.0, 1.0)
