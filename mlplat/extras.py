"""Optional stacks (pip extras) and the one-line message when a command needs a missing one.

``pip install mlplat`` is the engine, the store, the registry, batch prediction, monitoring
and the scheduler; the prediction service, the Slack bot, Ray/SLURM launchers and the
LightGBM/CatBoost models are extras (pyproject.toml). A command that needs one checks here
first, so the user reads which extra to install instead of an ImportError.
"""

from __future__ import annotations

import importlib.util

from mlplat.errors import MlplatError

# extra -> the modules it provides that commands import
EXTRAS = {
    "serve": ("fastapi", "uvicorn", "prometheus_client"),
    "ui": ("fastapi", "uvicorn"),
    "slack": ("slack_bolt", "slack_sdk"),
    "ray": ("ray", "hydra_plugins.hydra_ray_launcher"),
    "slurm": ("hydra_plugins.hydra_submitit_launcher",),
    "lightgbm": ("lightgbm",),
    "catboost": ("catboost",),
    # artifacts on object storage (tracking.artifacts=s3://... / gs://... / az://...)
    "s3": ("s3fs",),
    "gcs": ("gcsfs",),
    "azure": ("adlfs",),
}

# artifact URL scheme -> the extra whose fsspec filesystem serves it
URL_SCHEMES = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}


class MissingExtra(MlplatError):
    """A command needs an optional stack that is not installed."""


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def require(extra: str, what: str) -> None:
    """MissingExtra naming ``extra`` unless every module it provides can be imported."""
    missing = [m for m in EXTRAS[extra] if not _installed(m)]
    if missing:
        raise MissingExtra(f"{what} needs the {extra!r} extra ({missing[0]} is not installed): "
                           f"pip install 'mlplat[{extra}]'")
