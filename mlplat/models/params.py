"""Hyper-parameters: which config keys reach the estimator, their types, and what a run records.

- ``requested`` merges ``model.params`` with the task's own ``classifier_params`` /
  ``regressor_params`` (the task's keys win), the one definition the estimator is built from;
  ``unreached`` names the overrides that would change nothing (a key the task's section
  shadows, or the other task's section), so they are refused instead of recorded.
- ``check_values`` checks every shipped family's parameter values before any fit, each with
  the library's own rules: scikit-learn's declared constraints (``_validate_params``), the
  types XGBoost's and LightGBM's scikit-learn wrappers annotate, then the booster's own parser
  (XGBoost: a zero-round train on two rows; LightGBM: a Booster over two rows), CatBoost's
  ``_check_train_params`` (what its ``fit`` calls first).
- ``effective`` is ``get_params()`` of the final estimator, JSON-safe: what a run records.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import tempfile
import types
import typing
from typing import Any

from mlplat.errors import ConfigError
from mlplat.models.labels import LabelEncoded

SECTIONS = ("params", "classifier_params", "regressor_params")


def task_section(task: str) -> str:
    return "classifier_params" if task == "classification" else "regressor_params"


def requested(model: Any, task: str) -> dict[str, Any]:
    """The keyword arguments the config gives the estimator for ``task`` (before seed and threads)."""
    return {**dict(model.get("params") or {}), **dict(model.get(task_section(task)) or {})}


def unreached(model: Any, task: str, keys: list[tuple[str, str]]) -> list[str]:
    """Of the overridden ``(section, name)`` keys, those no estimator parameter receives."""
    own = task_section(task)
    out = []
    for section, name in keys:
        if section == "params" and name in (model.get(own) or {}):
            out.append(f"model.params.{name} (model.{own}.{name} sets it for {task})")
        elif section in SECTIONS and section not in ("params", own):
            out.append(f"model.{section}.{name} (used for {'regression' if own == 'classifier_params' else 'classification'}"
                       f" only; this run is {task})")
    return out


# -- values -------------------------------------------------------------------------------
_SIMPLE = (int, float, str, bool, type(None))


def _accepts(hint: Any, value: Any) -> bool | None:
    """Whether ``value`` fits a simple annotation (int, float, str, bool, None and unions of
    them); None when the annotation says more than that (then the library decides)."""
    origin = typing.get_origin(hint)
    options = typing.get_args(hint) if origin in (typing.Union, types.UnionType) else (hint,)
    if not all(o in _SIMPLE for o in options):
        return None
    for o in options:
        if o is type(None) and value is None:
            return True
        if o is bool and isinstance(value, bool):
            return True
        if o is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if o is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if o is str and isinstance(value, str):
            return True
    return False


def _type_name(hint: Any) -> str:
    options = typing.get_args(hint) or (hint,)
    return " or ".join("null" if o is type(None) else getattr(o, "__name__", str(o)) for o in options)


def _annotated(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        try:
            hints.update(typing.get_type_hints(init))
        except Exception:  # an annotation that cannot be evaluated: the library's own check decides
            continue
    return hints


def _check_annotations(name: str, estimator: Any, params: dict[str, Any]) -> None:
    hints = _annotated(type(estimator))
    for key, value in params.items():
        hint = hints.get(key)
        if hint is None:
            continue
        if _accepts(hint, value) is False:
            raise ConfigError(f"model {name!r}: model.params.{key}={value!r} must be {_type_name(hint)} "
                              f"({type(estimator).__name__})")


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    # XGBoost and LightGBM prefix their messages with a timestamp and a source location
    return text.split(": ", 1)[-1] if text.startswith("[") and "]" in text[:12] else text


def _xgboost(estimator: Any) -> None:
    import numpy as np
    import xgboost

    dtrain = xgboost.DMatrix(np.array([[0.0], [1.0]]), label=np.array([0.0, 1.0]))
    params = {k: v for k, v in estimator.get_xgb_params().items() if v is not None}
    params.pop("n_jobs", None)
    params["nthread"] = 1
    xgboost.train(params, dtrain, num_boost_round=0)


def _lightgbm(estimator: Any) -> None:
    import lightgbm
    import numpy as np

    params = {k: v for k, v in estimator.get_params().items()
              if v is not None and k not in ("class_weight", "importance_type", "objective", "n_jobs")}
    params.update(verbosity=-1, num_threads=1)
    # LightGBM prints its fatal message itself (some from C++, straight to the file descriptors)
    # before raising it: the raised error becomes our one line, so its printout is kept off
    with _without_lines("[LightGBM]"):
        data = lightgbm.Dataset(np.array([[0.0], [1.0]]), label=np.array([0.0, 1.0]), params={"verbosity": -1})
        lightgbm.Booster(params=params, train_set=data)


@contextlib.contextmanager
def _without_lines(marker: str):
    """Run the block with stdout/stderr (Python's and the file descriptors) captured, then write
    back every captured line that does not contain ``marker`` (other threads' output is kept)."""
    saved = {}
    captured = {}
    for fd in (1, 2):
        captured[fd] = tempfile.TemporaryFile()
        saved[fd] = os.dup(fd)
    try:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        for fd in (1, 2):
            os.dup2(captured[fd].fileno(), fd)
        with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
            yield
    finally:
        for fd in (1, 2):
            os.dup2(saved[fd], fd)
            os.close(saved[fd])
        texts = {1: out.getvalue() if "out" in locals() else "", 2: err.getvalue() if "err" in locals() else ""}
        for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
            captured[fd].seek(0)
            text = captured[fd].read().decode("utf-8", "replace") + texts[fd]
            captured[fd].close()
            kept = [line for line in text.splitlines(keepends=True) if marker not in line and line.strip()]
            if kept:
                stream.write("".join(kept))


def _catboost(estimator: Any) -> None:
    from catboost._catboost import _check_train_params

    _check_train_params(dict(estimator.get_params()))


NATIVE = {"xgboost": _xgboost, "lightgbm": _lightgbm, "catboost": _catboost}


def check_values(name: str, target: str, estimator: Any, params: dict[str, Any], *, native: bool = True) -> None:
    """The parameter values, checked by the estimator's library before any fit: one line when bad.
    ``native``: also by the booster's own parser (XGBoost/LightGBM/CatBoost; ~0.1 s, pre-checks only)."""
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None and hasattr(estimator, "_parameter_constraints"):  # scikit-learn's declared constraints
        try:
            validate()
        except ValueError as exc:
            raise ConfigError(f"model {name!r}: {exc}") from exc
    _check_annotations(name, estimator, params)
    library = NATIVE.get(target.split(".")[0]) if native else None
    if library is not None:
        try:
            library(estimator)
        except Exception as exc:
            raise ConfigError(f"model {name!r}: {target} refuses its parameters: {_first_line(exc)}") from None


# -- what a run records -------------------------------------------------------------------
def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:  # numpy scalars
        return _json_safe(value.item())
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)  # an estimator, a callable, a RandomState: named, not serialised


def effective(estimator: Any) -> dict[str, Any]:
    """``get_params(deep=False)`` of the estimator that was fitted (inside mlplat's label wrapper), JSON-safe."""
    inner = estimator
    if isinstance(estimator, LabelEncoded):
        inner = getattr(estimator, "estimator_", None) or estimator.estimator
    return {str(k): _json_safe(v) for k, v in sorted(inner.get_params(deep=False).items())}


__all__ = ["SECTIONS", "task_section", "requested", "unreached", "check_values", "effective"]
