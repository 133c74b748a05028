"""What every operation module needs: who acts, the composed config, the store.

The other ops modules import these from here (never from each other), so the imports
inside ``mlplat.ops`` run one way: domain modules -> common.
"""

from __future__ import annotations

import getpass
import os

from mlplat.config.compose import compose, conf_dir, to_plain
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


def open_store(tracking: dict | None = None, *, url: str | None = None):
    """The store named by ``url``, else the tracking config (composed when not given).

    MLPLAT_STORE_URL / MLPLAT_ARTIFACTS are the defaults of tracking.url / tracking.artifacts
    in conf/tracking/local.yaml, so they apply to every command alike; an explicit
    ``tracking.url=...`` override or ``--store`` wins over them.
    """
    # deferred: SQLAlchemy costs ~0.3 s to import (more under load), which `mlplat leaderboard`
    # and `mlplat runs list` never pay (they read through mlplat.tracking.direct and import
    # this module for default_tracking only)
    from mlplat.tracking.store import Store

    if tracking is None:
        tracking = default_tracking()
    if url:
        return Store.open(url, str(tracking["artifacts"]))
    return Store.open(str(tracking["url"]), str(tracking["artifacts"]))


def default_tracking() -> dict:
    """tracking.* of the config: read from the files when that is certain to give what composing
    would (composing the whole tree costs most of a read command's 0.5 s budget), else composed."""
    return _tracking_from_files(conf_dir()) or compose_plain([])["tracking"]


__all__ = ["os_user", "actor_from_env", "compose_plain", "open_store"]
