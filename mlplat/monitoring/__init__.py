"""Drift monitoring: reference profiles, vectorised drift statistics, reports.

Pure library layer (no database, no CLI).  Typical use::

    profile = build_profile(train_df, numeric=[...], categorical=[...], predictions=train_pred)
    json.dump(profile, fh)                       # store with the model
    result = check_drift(profile, batch_df, predictions=batch_pred)
    html = to_html(result)

Submodules are imported lazily so ``import mlplat.monitoring`` stays cheap
(SciPy is only loaded when a check actually runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlplat.monitoring.drift import DriftResult, FeatureDrift, check_drift
    from mlplat.monitoring.profile import build_profile
    from mlplat.monitoring.report import to_html, to_json

__all__ = ["DriftResult", "FeatureDrift", "build_profile", "check_drift", "to_html", "to_json"]

_LOCATIONS = {
    "DriftResult": "mlplat.monitoring.drift",
    "FeatureDrift": "mlplat.monitoring.drift",
    "check_drift": "mlplat.monitoring.drift",
    "build_profile": "mlplat.monitoring.profile",
    "to_html": "mlplat.monitoring.report",
    "to_json": "mlplat.monitoring.report",
}


def __getattr__(name: str) -> Any:
    """Resolve public names on first use (PEP 562) to keep package import light."""
    module_name = _LOCATIONS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mlplat.monitoring' has no attribute {name!r}")
    import importlib  # noqa: PLC0415

    return getattr(importlib.import_module(module_name), name)
