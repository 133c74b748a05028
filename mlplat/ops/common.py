"""What every operation module needs: who acts, the composed config, the store.

The other ops modules import these from here (never from each other), so the imports
inside ``mlplat.ops`` run one way: domain modules -> common.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from mlplat.config.compose import compose, config_dirs, to_plain
from mlplat.errors import NoStore
from mlplat.project import find_project, resolve_sqlite_url, resolve_tracking
from mlplat.tracking.defaults import default_tracking as _tracking_from_files


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


def actor_from_env() -> str:
    """The acting user for CLI calls: MLPLAT_ACTOR (meant for tests and automation) or the OS user."""
    return os.environ.get("MLPLAT_ACTOR") or os_user()


def compose_plain(overrides: list[str] | None = None) -> dict:
    """The config tree composed with ``overrides``, as plain dicts and lists."""
    return to_plain(compose(overrides))


def open_store(tracking: dict | None = None, *, url: str | None = None, create: bool | None = None):
    """The store named by ``url``, else the tracking config (composed when not given).

    MLPLAT_STORE_URL / MLPLAT_ARTIFACTS are the defaults of tracking.url / tracking.artifacts
    in conf/tracking/local.yaml, so they apply to every command alike; an explicit
    ``tracking.url=...`` override or ``--store`` wins over them. Relative paths start at
    the project root. A store is created only by a caller that writes runs (``create=True``,
    or a tracking node given: training, logging a run); a read (only a URL, or nothing) of a
    missing SQLite file is NoStore, never a new empty store.
    """
    # deferred: SQLAlchemy costs ~0.3 s to import (more under load), which `mlplat leaderboard`
    # and `mlplat runs list` never pay (they read through mlplat.tracking.direct and import
    # this module for default_tracking only)
    from mlplat.tracking.store import Store

    if create is None:
        create = tracking is not None and url is None
    if tracking is None:
        tracking = default_tracking()
    target = resolve_sqlite_url(url) if url else str(tracking["url"])
    if not create:
        require_existing(target)
    return Store.open(target, str(tracking["artifacts"]))


def require_existing(url: str) -> None:
    """NoStore (naming the path, and where the project search looked) when ``url`` is a
    SQLite file that does not exist."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return
    path = Path(url[len(prefix):].partition("?")[0])
    if not path.is_file():
        project = find_project()
        where = "" if project.root is not None else f" ({project.where()})"
        raise NoStore(f"no store at {path}: run `mlplat train` first, or pass --store{where}")


def default_tracking() -> dict:
    """tracking.* of the config, relative paths made absolute against the project root: read
    from the files when that is certain to give what composing would (composing the whole tree
    costs most of a read command's 0.5 s budget), else composed."""
    cheap = _tracking_from_files(config_dirs())
    return resolve_tracking(cheap) if cheap is not None else compose_plain([])["tracking"]


__all__ = ["os_user", "actor_from_env", "compose_plain", "open_store"]
