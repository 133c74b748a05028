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

import re
import threading
from pathlib import Path
from typing import Any

from mlplat.config import repository
from mlplat.errors import ConfigError
from mlplat.project import Project, find_project, shipped_conf

# Hydra keeps one global instance per process: threads (the bot's workers, scheduler
# jobs) must take turns composing
_COMPOSE_LOCK = threading.RLock()
# what `mlplat train --config-dir/--config-path/--config-name` asked for, in this process
_COMMAND_LINE: dict[str, Any] = {"dirs": [], "config_name": None}
# keys holding paths that start at the project root when relative (besides tracking.*)
ROOT_PATHS = ("serving.prediction_log.dir", "serving.metrics_dir", "monitor.reports_dir", "schedule.reports_dir")


def __getattr__(name: str) -> Any:
    if name == "PACKAGE_CONF":  # the shipped library (kept for callers of the old constant)
        return shipped_conf()
    raise AttributeError(name)


def set_command_line(dirs: list[str | Path], config_name: str | None = None) -> None:
    """Put `mlplat train`'s -cd/-cp directories in front of the project's conf and pick -cn."""
    _COMMAND_LINE["dirs"] = [Path(d).resolve() for d in dirs]
    _COMMAND_LINE["config_name"] = config_name


def config_name() -> str:
    return _COMMAND_LINE["config_name"] or "config"


def project() -> Project:
    return find_project()


def config_dirs(proj: Project | None = None) -> list[Path]:
    """The config layers, first wins: command-line dirs, the project's conf/, the shipped library.

    The same order Hydra's search path gets (see hydra_plugins/mlplat_searchpath), so a file
    in a project layer overrides the shipped file of the same name.
    """
    proj = proj or find_project()
    out: list[Path] = []
    for d in (*_COMMAND_LINE["dirs"], proj.conf, shipped_conf()):
        if d is not None and d.is_dir() and d.resolve() not in out:
            out.append(d.resolve())
    return out


def conf_dir() -> Path:
    """The first config layer: Hydra's primary config directory for this command."""
    return config_dirs()[0]


def find_config(relative: str) -> Path | None:
    """The file a config path (e.g. "registry/default.yaml") comes from: the first layer holding it."""
    for d in config_dirs():
        if (d / relative).is_file():
            return d / relative
    return None


def _default_metric(task: str) -> str:
    from mlplat.evaluation.metrics import DEFAULT_PRIMARY

    task = str(getattr(task, "value", task)).removeprefix("Task.")
    return DEFAULT_PRIMARY.get(task, "roc_auc")


def setup() -> None:
    """Register the schema and resolvers (idempotent); call before Hydra composes anything."""
    from omegaconf import OmegaConf

    from mlplat.config.schema import register_schemas

    register_schemas()
    repository.install()
    if not OmegaConf.has_resolver("mlplat_default_metric"):
        OmegaConf.register_new_resolver("mlplat_default_metric", _default_metric)
    if not OmegaConf.has_resolver("mlplat_root"):
        # hydra.run.dir and friends: runs/ under the project root from any subdirectory
        OmegaConf.register_new_resolver("mlplat_root", lambda: str(find_project().base))


def group_options(group: str) -> list[str]:
    return sorted({p.stem for d in config_dirs() if (d / group).is_dir() for p in (d / group).glob("*.yaml")})


def is_group(name: str) -> bool:
    return any((d / name).is_dir() for d in config_dirs())


def group_dirs(group: str) -> str:
    return ", ".join(str(d / group) for d in config_dirs() if (d / group).is_dir()) or str(conf_dir() / group)


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
                               f"{', '.join(options)} (files in {group_dirs(group)})")
        m = re.search(r"Could not find '([^']+)'", text)
        if m:
            return ConfigError(f"config {m.group(1)!r} not found in {', '.join(map(str, config_dirs()))}: "
                               "check the name")
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        msg = getattr(cause, "msg", str(cause)).strip().splitlines()[0]
        key = getattr(cause, "full_key", None)
        where = f" at {key}" if key else ""
        group = str(key).split(".")[0] if key else ""
        hint = (f"; check conf/{group}/ or your override" if group and is_group(group)
                else "; check your override")
        return ConfigError(f"config error{where}: {msg}{hint}")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    rest = " ".join(line.strip() for line in text.strip().splitlines()[1:3] if line.strip())
    return ConfigError(f"config error: {first}{(' ' + rest) if rest else ''}")


def compose(overrides: list[str] | None = None, *, return_hydra_config: bool = False) -> Any:
    """The composed (unresolved) config for ``overrides``, as Hydra would give ``mlplat train``.

    The first config layer is the primary directory; the search-path plugin appends the
    others, exactly as for the Hydra app.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    setup()
    with _COMPOSE_LOCK:
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3", job_name="mlplat"):
                return hydra_compose(config_name(), overrides=list(overrides or []),
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
    return resolve_paths(container)


def resolve_paths(container: dict, proj: Project | None = None) -> dict:
    """Relative store, artifact and output paths made absolute against the project root, so
    what is recorded (and what runs) is the same from any subdirectory."""
    from mlplat.project import is_url, resolve, resolve_tracking

    proj = proj or find_project()
    if isinstance(container.get("tracking"), dict):
        container["tracking"] = resolve_tracking(container["tracking"], proj)
    for dotted in ROOT_PATHS:
        *parents, leaf = dotted.split(".")
        node: Any = container
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        # a URL (the prediction log on s3://...) names no local folder: left as written
        if isinstance(node, dict) and isinstance(node.get(leaf), str) and node[leaf] and not is_url(node[leaf]):
            node[leaf] = str(resolve(node[leaf], proj))
    return container


def tracking_of(overrides: list[str] | None = None) -> dict:
    """Just the tracking node, for subcommands that only read the store."""
    cfg = compose(overrides)
    return to_plain(cfg)["tracking"]
