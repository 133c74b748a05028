"""The sweeper's error types.

They derive from :class:`hydra.errors.CompactHydraException` because Hydra's front door
(``run_and_report``) prints such errors as their message alone, without a traceback: every
mistake a user can make in a sweep config is reported in one line, before any trial runs.

The module name starts with an underscore on purpose: Hydra's plugin scan re-executes every
public module of a plugin package, which would create second copies of these classes and
break ``except`` clauses holding the first ones.
"""

from __future__ import annotations

from hydra.errors import CompactHydraException


class SweeperError(CompactHydraException):
    """Root of the errors raised by the mlplat Optuna sweeper."""


class SweeperConfigError(SweeperError, ValueError):
    """A ``hydra.sweeper.*`` setting is wrong: direction, sampler, storage, n_trials, ..."""


class SearchSpaceError(SweeperConfigError):
    """A search-space entry (``hydra.sweeper.params`` or a sweep override) cannot be used."""


class TooManyFailuresError(SweeperError):
    """More trials failed than ``hydra.sweeper.max_failures`` allows: the sweep stopped."""
