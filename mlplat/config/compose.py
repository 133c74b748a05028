"""Find the config tree, register mlplat's schema and resolvers, compose configs.

``mlplat train`` is a Hydra app; every other subcommand composes the same tree here with
Hydra's compose API. Errors from Hydra and OmegaConf (unknown option, unknown key, wrong
type) are translated into one-line ``ConfigError`` messages that name the key, the file
and the allowed values.

Hydra, OmegaConf and the schema are imported inside the functions that compose: the read
commands (`mlplat leaderboard`, `runs list`) import this module for ``conf_dir`` alone, and
Hydra with OmegaConf costs them ~0.5 s (measured with ``python -X importtime``).
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from mlplat.errors import ConfigError

PACKAGE_CONF = Path(__file__).resolve().parents[2] / "conf"
# Hydra keeps one global instance per process: threads (the bot's workers, scheduler
# jobs) must take turns composing
_COMPOSE_LOCK = threading.RLock()


def conf_dir() -> Path:
    """MLPLAT_CONF_DIR, else ./conf when it has a config.yaml, else the conf shipped with mlplat."""
    env = os.environ.get("MLPLAT_CONF_DIR")
    if env:
        path = Path(env).resolve()
        if not (path / "config.yaml").is_file():
            raise ConfigError(f"MLPLAT_CONF_DIR={env!r} has no config.yaml; point it at a conf/ directory")
        return path
    local = Path.cwd() / "conf"
    if (local / "config.yaml").is_file():
        return local.resolve()
    return PACKAGE_CONF


def _default_metric(task: str) -> str:
    from mlplat.evaluation.metrics import DEFAULT_PRIMARY

    task = str(getattr(task, "value", task)).removeprefix("Task.")
    return DEFAULT_PRIMARY.get(task, "roc_auc")


def setup() -> None:
    """Register the schema and resolvers (idempotent); call before Hydra composes anything."""
    from omegaconf import OmegaConf

    from mlplat.config.schema import register_schemas

    register_schemas()
    if not OmegaConf.has_resolver("mlplat_default_metric"):
        OmegaConf.register_new_resolver("mlplat_default_metric", _default_metric)


def group_options(group: str) -> list[str]:
    directory = conf_dir() / group
    return sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []


def translate(exc: BaseException) -> ConfigError:
    """One line from a Hydra/OmegaConf composition error: what, where, how to fix."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    text = str(exc)
    if isinstance(exc, MissingConfigException) or "Could not find" in text:
        m = re.search(r"Could not find '([^/']+)/([^']+)'", text)
        if m:
            group, option = m.groups()
            options = group_options(group)
            return ConfigError(f"unknown option {option!r} for config group {group!r}: choose one of "
                               f"{', '.join(options)} (files in {conf_dir() / group})")
        m = re.search(r"Could not find '([^']+)'", text)
        if m:
            return ConfigError(f"config {m.group(1)!r} not found in {conf_dir()}: check the name")
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        msg = getattr(cause, "msg", str(cause)).strip().splitlines()[0]
        key = getattr(cause, "full_key", None)
        where = f" at {key}" if key else ""
        group = str(key).split(".")[0] if key else ""
        hint = (f"; check conf/{group}/ or your override" if group and (conf_dir() / group).is_dir()
                else "; check your override")
        return ConfigError(f"config error{where}: {msg}{hint}")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    rest = " ".join(line.strip() for line in text.strip().splitlines()[1:3] if line.strip())
    return ConfigError(f"config error: {first}{(' ' + rest) if rest else ''}")


def compose(overrides: list[str] | None = None, *, return_hydra_config: bool = False) -> Any:
    """The composed (unresolved) config for ``overrides``, as Hydra would give ``mlplat train``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    setup()
    with _COMPOSE_LOCK:
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="mlplat"):
                return hydra_compose("config", overrides=list(overrides or []),
                                     return_hydra_config=return_hydra_config)
        except ConfigError:
            raise
        except Exception as exc:
            raise translate(exc) from exc
        finally:
            GlobalHydra.instance().clear()


def to_plain(cfg: Any) -> dict:
    """Resolve interpolations and return plain Python containers (enums as their values)."""
    from omegaconf import OmegaConf

    try:
        container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True, enum_to_str=True)
    except Exception as exc:
        raise translate(exc) from exc
    container.pop("hydra", None)
    return container


def tracking_of(overrides: list[str] | None = None) -> dict:
    """Just the tracking node, for subcommands that only read the store."""
    cfg = compose(overrides)
    return to_plain(cfg)["tracking"]
