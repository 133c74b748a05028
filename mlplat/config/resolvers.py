"""OmegaConf resolvers the launcher presets (conf/launcher/*.yaml) use.

Every process that resolves ``hydra.launcher`` needs them: the `mlplat train` driver, the
sweep pre-check, and the job processes of a launcher (joblib, Ray workers), which import
``mlplat.app``; that is why they live here, in the config layer, and not with the sweep
operations.
"""

from __future__ import annotations

import os
from typing import Any

from omegaconf import OmegaConf


def _ray_local(address: Any, value: Any) -> Any:
    """``value`` when Ray is started by this process (no address), else None (Ray refuses it)."""
    return value if address in (None, "", "local") else None


def _driver_env() -> dict[str, str]:
    """The MLPLAT_* variables of the process that starts the sweep.

    Ray runs jobs in worker processes that inherit the environment of the Ray node, not of
    `mlplat train`; without these, a job would not know its sweep (MLPLAT_INVOCATION_ID) and
    would resolve ${oc.env:MLPLAT_STORE_URL,...} against the node's environment.
    """
    return {k: v for k, v in os.environ.items() if k.startswith("MLPLAT_")}


def register_resolvers() -> None:
    """Register mlplat_ray_local and mlplat_driver_env (idempotent)."""
    if not OmegaConf.has_resolver("mlplat_ray_local"):
        OmegaConf.register_new_resolver("mlplat_ray_local", _ray_local)
    if not OmegaConf.has_resolver("mlplat_driver_env"):
        OmegaConf.register_new_resolver("mlplat_driver_env", _driver_env)
