"""Compose each config once per `mlplat train` command.

One `mlplat train` composed the same config three times: mlplat's pre-check (Hydra's
compose API), then the Hydra app twice (``get_mode`` reads ``hydra.mode`` from a MULTIRUN
composition, ``run``/``multirun`` compose again), ~0.24 s each on the shipped tree. Inside
``composing_once()`` Hydra's ``ConfigLoaderImpl.load_configuration`` keeps what it composed,
keyed by everything the composition reads (config name, overrides, the search path, and
whether missing defaults are skipped), and hands out deep copies, so callers still mutate
their own config. What Hydra fills in from the process after composing (the working
directory, ``env_copy`` variables, a job name taken from the runtime) is filled in again
on each hit, as Hydra would. A RUN composition also answers a MULTIRUN request for the
same key: the only difference is that MULTIRUN skips missing defaults, and a RUN
composition that succeeded had none. The memo lives only for one command (config files
are read once per command anyway); long-lived processes (bot, scheduler, UI) never use it.
tests/config/test_config_memo.py checks a memoised config equals a fresh composition.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from typing import Any

_ACTIVE: dict[str, Any] = {"on": False, "cache": {}}
_RUNTIME_NAME = "__mlplat_memo_runtime_name__"
_MODES = ("hydra.mode=RUN", "hydra.mode=MULTIRUN")


def _key(loader: Any, config_name: str | None, overrides: list[str], skip_missing: bool) -> tuple:
    path = tuple((p.provider, p.path) for p in loader.config_search_path.get_path())
    return config_name, tuple(overrides), path, skip_missing


def _refresh(cfg: Any, from_runtime: bool) -> None:
    """What Hydra's ``_load_configuration_impl`` sets from the process, set again now."""
    from hydra.core.utils import JobRuntime
    from omegaconf import open_dict

    with open_dict(cfg.hydra):
        for key in cfg.hydra.job.env_copy:
            cfg.hydra.job.env_set[key] = os.environ[key]
        cfg.hydra.runtime.cwd = os.getcwd()
        if from_runtime:
            cfg.hydra.job.name = JobRuntime().get("name")


def _memoised(original):
    def load_configuration(self, config_name, overrides, run_mode, from_shell=True,
                           validate_sweep_overrides=True):
        if not _ACTIVE["on"]:
            return original(self, config_name, overrides, run_mode, from_shell, validate_sweep_overrides)
        from hydra.core.utils import JobRuntime
        from hydra.types import RunMode

        cache = _ACTIVE["cache"]
        multirun = run_mode == RunMode.MULTIRUN

        def lookup(wanted: list[str]) -> Any:
            found = cache.get(_key(self, config_name, wanted, multirun))
            if found is None and multirun:
                found = cache.get(_key(self, config_name, wanted, False))
            return found

        overrides = list(overrides)
        hit, mode = lookup(overrides), None
        if hit is None and overrides and overrides[-1] in _MODES:
            # Hydra's _run_app appends hydra.mode=RUN|MULTIRUN when no config sets the mode:
            # a hydra.* value override, applied last and listed last, as composing would
            hit, mode = lookup(overrides[:-1]), overrides[-1]
        if hit is not None:
            if validate_sweep_overrides:  # the check the composition would have made (cheap)
                parsed, _ = self._parse_overrides_and_create_caching_repo(config_name, overrides)
                self.validate_sweep_overrides_legal(overrides=parsed, run_mode=run_mode, from_shell=from_shell)
            cfg, from_runtime = hit
            cfg = copy.deepcopy(cfg)
            if mode is not None:
                from hydra._internal.config_loader_impl import ConfigLoaderImpl
                from hydra.core.override_parser.overrides_parser import OverridesParser

                ConfigLoaderImpl._apply_overrides_to_config(OverridesParser.create().parse_overrides([mode]), cfg)
                cfg.hydra.overrides.hydra.append(mode)
            _refresh(cfg, from_runtime)
            return cfg
        # a sentinel runtime name tells whether hydra.job.name came from the config or the runtime
        runtime = JobRuntime()
        name = runtime.get("name")
        runtime.set("name", _RUNTIME_NAME)
        try:
            cfg = original(self, config_name, overrides, run_mode, from_shell, validate_sweep_overrides)
        finally:
            runtime.set("name", name)
        from_runtime = cfg.hydra.job.name == _RUNTIME_NAME
        if from_runtime:
            _refresh(cfg, True)
        cache[_key(self, config_name, overrides, multirun)] = (copy.deepcopy(cfg), from_runtime)
        return cfg

    load_configuration.__wrapped__ = original
    return load_configuration


def _install() -> None:
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    if not hasattr(ConfigLoaderImpl.load_configuration, "__wrapped__"):
        ConfigLoaderImpl.load_configuration = _memoised(ConfigLoaderImpl.load_configuration)


@contextlib.contextmanager
def composing_once() -> Iterator[None]:
    """Within the block, a config composed once is handed out again instead of recomposed."""
    _install()
    was = _ACTIVE["on"]
    _ACTIVE["on"] = True
    try:
        yield
    finally:
        _ACTIVE["on"] = was
        if not was:
            _ACTIVE["cache"] = {}
