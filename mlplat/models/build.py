"""Build the estimator a model config declares, for the dataset's task.

Built with ``hydra.utils.instantiate`` from a ``_target_`` whose module must be declared in
``runtime.allowed_modules``: configs can come from many hands (and, filtered, from chat),
and instantiate will import and call anything it is given. A project adds its own package
to that list to train its own estimator class.
"""

from __future__ import annotations

import inspect
from typing import Any

from hydra.utils import instantiate

from mlplat.errors import ConfigError
from mlplat.extras import EXTRAS as EXTRA_MODULES
from mlplat.models import params as model_params

DEFAULT_ALLOWED = ("sklearn", "xgboost", "lightgbm", "catboost", "mlplat")
# top-level module -> the pip extra that installs it (declared once, in mlplat/extras.py)
EXTRAS = {module: extra for extra, modules in EXTRA_MODULES.items() for module in modules if "." not in module}


def _allowed(target: str, allowed: list[str] | tuple[str, ...]) -> bool:
    return any(target == m or target.startswith(m.rstrip(".") + ".") for m in allowed)


def _check_target(target: str, model_name: str, allowed: list[str] | tuple[str, ...]) -> None:
    if not _allowed(target, allowed):
        raise ConfigError(
            f"model {model_name!r}: _target_ {target!r} is outside the allow-list runtime.allowed_modules "
            f"({', '.join(allowed)}); to allow it, add its package to runtime.allowed_modules in your "
            "conf/config.yaml"
        )


def estimator_class_path(model: Any, task: str, allowed: list[str] | tuple[str, ...] | None = None) -> str:
    key = "classifier" if task == "classification" else "regressor"
    target = model.get(key)
    if not target:
        raise ConfigError(f"model {model['name']!r} has no {key}: it cannot be used for {task}; choose another model")
    _check_target(str(target), model["name"], tuple(allowed) if allowed is not None else DEFAULT_ALLOWED)
    return str(target)


def _declared_params(cls: type) -> set[str] | None:
    """Keyword parameters ``cls.__init__`` and the bases its ``**kwargs`` reach declare; None
    when no class declares any (then nothing is refused)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            break
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return names or None


def _lightgbm_params() -> set[str]:
    """Every parameter name and alias LightGBM itself knows (its scikit-learn wrapper passes
    any keyword through to the booster, which only warns about unknown ones at fit time).
    The table is LightGBM's C API LGBM_DumpParamAliases, as its Python package reads it."""
    from lightgbm.basic import _ConfigAliases

    table = _ConfigAliases._get_all_param_aliases()
    return set(table) | {alias for aliases in table.values() for alias in aliases}


def _import_error(target: str, exc: BaseException) -> ConfigError | None:
    """One line naming the extra to install when an optional model stack is missing."""
    root = target.split(".")[0]
    missing = getattr(exc, "name", None) or ""
    if root in EXTRAS and (missing.split(".")[0] == root or f"No module named '{root}'" in str(exc)):
        return ConfigError(f"model {target} needs the {EXTRAS[root]!r} extra ({root} is not installed): "
                           f"pip install 'mlplat[{EXTRAS[root]}]'")
    return None


def build_estimator(model: Any, task: str, seed: int, threads: int | None,
                    allowed: list[str] | tuple[str, ...] | None = None, *, native_check: bool = False) -> Any:
    """A fresh, unfitted estimator with the config's hyper-parameters (``native_check``: their
    values also go through the booster's own parser, as the pre-check does once per value)."""
    target = estimator_class_path(model, task, allowed)
    params = model_params.requested(model, task)  # model.params under the task's own section
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
        missing = _import_error(target, cause)
        if missing is not None:
            raise missing from exc
        text = str(cause).strip().splitlines()
        raise ConfigError(f"model {model['name']!r}: cannot build {target}: {text[0] if text else type(cause).__name__}") from exc
    # an unknown key is accepted silently by some estimators' __init__(**kwargs) (XGBoost,
    # LightGBM): check it against the parameters the class declares instead
    known = set(estimator.get_params(deep=False))
    declared = _declared_params(type(estimator))
    if target.startswith("lightgbm."):
        declared = (declared or set()) | _lightgbm_params()
    # (get_params() echoes whatever **kwargs received, so it cannot tell)
    unknown = [k for k in params if declared is not None and k not in declared]
    if unknown:
        raise ConfigError(
            f"model {model['name']!r}: unknown parameter(s) {unknown} for {target}; "
            f"known: {', '.join(sorted(known & declared if declared else known)[:40])}"
        )
    # every family's values by its library's own rules, before any fit (models/params.py)
    model_params.check_values(model["name"], target, estimator, params, native=native_check)
    return estimator
