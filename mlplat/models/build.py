"""Build the estimator a model config declares, for the dataset's task.

Built with ``hydra.utils.instantiate`` from a ``_target_`` that must sit on an allow-list
of modules: configs can come from many hands (and, filtered, from chat), and instantiate
will import and call anything it is given.
"""

from __future__ import annotations

import inspect
from typing import Any

from hydra.utils import instantiate

from mlplat.errors import ConfigError

ALLOWED_PREFIXES = ("sklearn.", "xgboost.", "mlplat.")


def _check_target(target: str, model_name: str) -> None:
    if not any(target.startswith(p) for p in ALLOWED_PREFIXES):
        raise ConfigError(
            f"model {model_name!r}: _target_ {target!r} is outside the allow-list "
            f"({', '.join(p + '*' for p in ALLOWED_PREFIXES)}); use an estimator from those modules"
        )


def estimator_class_path(model: Any, task: str) -> str:
    key = "classifier" if task == "classification" else "regressor"
    target = model.get(key)
    if not target:
        raise ConfigError(f"model {model['name']!r} has no {key}: it cannot be used for {task}; choose another model")
    _check_target(str(target), model["name"])
    return str(target)


def build_estimator(model: Any, task: str, seed: int, threads: int | None) -> Any:
    """A fresh, unfitted estimator with the config's hyper-parameters."""
    target = estimator_class_path(model, task)
    params = {**dict(model.get("params") or {}), **dict(model.get(f"{'classifier' if task == 'classification' else 'regressor'}_params") or {})}
    if model.get("seed_param"):
        params.setdefault(model["seed_param"], seed)
    if model.get("threads_param") and threads:
        params.setdefault(model["threads_param"], threads)
    for key in params:
        if key.startswith("_"):
            raise ConfigError(f"model.params.{key}: keys starting with '_' are not allowed in model params")
    try:
        estimator = instantiate({"_target_": target, **params}, _convert_="all")
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(f"model {model['name']!r}: cannot build {target}: {str(cause).splitlines()[0]}") from exc
    # an unknown key is accepted silently by some estimators' __init__(**kwargs) (XGBoost):
    # check it against the estimator's declared parameters instead
    known = set(estimator.get_params(deep=False))
    unknown = [k for k in params if k not in known and not target.startswith("xgboost.")]
    if target.startswith("xgboost."):
        from xgboost import XGBModel  # ~0.3 s (more under load): only for XGBoost models

        xgb_known = set(inspect.signature(XGBModel.__init__).parameters) | known
        unknown = [k for k in params if k not in xgb_known]
    if unknown:
        raise ConfigError(
            f"model {model['name']!r}: unknown parameter(s) {unknown} for {target}; "
            f"known: {', '.join(sorted(known)[:40])}"
        )
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None and hasattr(estimator, "_parameter_constraints"):  # scikit-learn's own declared constraints, checked before any fit
        try:
            validate()
        except ValueError as exc:
            raise ConfigError(f"model {model['name']!r}: {exc}") from exc
    return estimator
