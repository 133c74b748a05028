"""The ``monitor`` config group: defaults, and one check that names the bad key.

The allowed keys and their types are declared once in ``DEFAULTS`` (the value's type is
the allowed type; ``None`` means "optional"); :func:`load` merges a composed ``monitor``
node over them and fails with one line naming the key, the value and the file, before
any check runs. Durations (``cooldown``, ``timeout``) are strings like ``6h``.
"""

from __future__ import annotations

import copy
from typing import Any

from mlplat import durations
from mlplat.errors import ConfigError

WHERE = "conf/monitor"
KINDS = ("drift", "performance", "latency")  # the checks a model gets (monitor_checks.kind)
DRIFT_METHODS = ("ks", "wasserstein", "psi", "jensenshannon", "chi2", "chisquare", "z")
RETRAIN_WHEN = (None, "drift")

DEFAULTS: dict[str, Any] = {
    "reports_dir": "runs/reports/monitor",
    "drift": {
        "drift_share": 0.5, "warn_ratio": 0.5, "null_share_threshold": 0.05, "unseen_share_threshold": 0.05,
        "num_method": None, "cat_method": None, "num_threshold": None, "cat_threshold": None,
        "features": {}, "predictions": {}, "multiple_testing": "bh",
    },
    "performance": {"tolerance": {"default": 0.05}, "warn_ratio": 0.5, "min_rows": 30},
    "latency": {"slo": {"p50_ms": None, "p95_ms": 50.0, "p99_ms": 100.0}, "warn_ratio": 0.8, "min_requests": 20},
    "alerts": {"cooldown": "6h", "statuses": ["drift", "degraded", "breach"]},
    "retrain": {"when": None, "confirm": 2, "command": [], "sweep": None, "register_as": None,
                "request_to": "production", "cooldown": "24h", "wait": False, "timeout": "2h"},
}
# keys whose values are free-form maps (feature names, metric names) rather than fixed keys
_OPEN_MAPS = {"drift.features", "drift.predictions", "performance.tolerance"}
_NUMBER = (int, float)
# optional settings: None allowed, else this type
_OPTIONAL = {
    "drift.num_method": str, "drift.cat_method": str, "drift.num_threshold": _NUMBER,
    "drift.cat_threshold": _NUMBER, "latency.slo.p50_ms": _NUMBER, "latency.slo.p95_ms": _NUMBER,
    "latency.slo.p99_ms": _NUMBER, "retrain.when": str, "retrain.sweep": str, "retrain.register_as": str,
}


def seconds(text: Any, key: str) -> float:
    """'6h' -> 21600.0, with the key named when malformed."""
    value = durations.seconds(text)
    if value is None:
        raise ConfigError(f"{WHERE}: {key}={text!r} is not a duration; use a number and a unit, e.g. 90s, 30m, 6h, 7d")
    return value


def _type_name(t: Any) -> str:
    return "a number" if t == _NUMBER else {str: "a string", bool: "true/false", list: "a list", dict: "a mapping",
                                            int: "a whole number"}.get(t, str(t))


def _check_type(key: str, value: Any, expected: Any) -> None:
    if isinstance(value, bool) and expected is not bool:
        ok = False
    elif expected is float:
        ok = isinstance(value, _NUMBER)
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise ConfigError(f"{WHERE}: {key} must be {_type_name(_NUMBER if expected is float else expected)}, "
                          f"got {value!r}")


def _merge(defaults: dict[str, Any], given: dict[str, Any], prefix: str) -> dict[str, Any]:
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        path = f"{prefix}{key}"
        if key not in defaults:
            raise ConfigError(f"{WHERE}: unknown key {path!r}; allowed: {', '.join(sorted(defaults))}")
        default = defaults[key]
        if path in _OPEN_MAPS:
            _check_type(path, value or {}, dict)
            out[key] = {**(default if path == "performance.tolerance" else {}), **dict(value or {})}
        elif isinstance(default, dict):
            _check_type(path, value, dict)
            out[key] = _merge(default, value, f"{path}.")
        elif value is None or (path in _OPTIONAL):
            if value is not None:
                _check_type(path, value, _OPTIONAL[path])
            elif path not in _OPTIONAL:
                raise ConfigError(f"{WHERE}: {path} must not be null (default {default!r})")
            out[key] = value
        else:
            _check_type(path, value, type(default))
            out[key] = value
    return out


def _validate(cfg: dict[str, Any]) -> None:
    drift = cfg["drift"]
    for key in ("num_method", "cat_method"):
        if drift[key] is not None and drift[key] not in DRIFT_METHODS:
            raise ConfigError(f"{WHERE}: drift.{key}={drift[key]!r} is not a method; use one of {', '.join(DRIFT_METHODS)}")
    for name, spec in {**drift["features"], "(predictions)": drift["predictions"]}.items():
        if name == "(predictions)" and not spec:
            continue
        where = "drift.predictions" if name == "(predictions)" else f"drift.features.{name}"
        if not isinstance(spec, dict) or set(spec) - {"method", "threshold"}:
            raise ConfigError(f"{WHERE}: {where} must be a mapping with method and/or threshold, got {spec!r}")
        if spec.get("method") is not None and spec["method"] not in DRIFT_METHODS:
            raise ConfigError(f"{WHERE}: {where}.method={spec['method']!r} is not a method; use one of "
                              f"{', '.join(DRIFT_METHODS)}")
    if drift["multiple_testing"] not in ("bh", "none"):
        raise ConfigError(f"{WHERE}: drift.multiple_testing={drift['multiple_testing']!r} is not supported; "
                          "use bh (Benjamini-Hochberg over the check's p-value tests) or none")
    if not 0 < float(drift["drift_share"]) <= 1:
        raise ConfigError(f"{WHERE}: drift.drift_share={drift['drift_share']} must be in (0, 1]")
    for metric, tol in cfg["performance"]["tolerance"].items():
        if isinstance(tol, bool) or not isinstance(tol, _NUMBER) or tol < 0:
            raise ConfigError(f"{WHERE}: performance.tolerance.{metric}={tol!r} must be a number >= 0")
    for status in cfg["alerts"]["statuses"]:
        if status not in ("drift", "warn", "error", "degraded", "breach"):
            raise ConfigError(f"{WHERE}: alerts.statuses has {status!r}; allowed: drift, degraded, breach, warn, error")
    retrain = cfg["retrain"]
    if retrain["when"] not in RETRAIN_WHEN:
        raise ConfigError(f"{WHERE}: retrain.when={retrain['when']!r} is not supported; use drift or null")
    if int(retrain["confirm"]) < 1:
        raise ConfigError(f"{WHERE}: retrain.confirm={retrain['confirm']} must be at least 1")
    if any(not isinstance(a, str) for a in retrain["command"]):
        raise ConfigError(f"{WHERE}: retrain.command must be a list of strings, got {retrain['command']!r}")
    for key in ("alerts.cooldown", "retrain.cooldown", "retrain.timeout"):
        group, name = key.split(".")
        seconds(cfg[group][name], key)


def load(node: dict[str, Any] | None) -> dict[str, Any]:
    """The effective monitor settings: ``node`` (a composed ``monitor`` group) over DEFAULTS."""
    if node is None:
        node = {}
    if not isinstance(node, dict):
        raise ConfigError(f"{WHERE}: the monitor group must be a mapping, got {type(node).__name__}")
    cfg = _merge(DEFAULTS, node, "")
    _validate(cfg)
    return cfg


def drift_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``config`` argument of :func:`mlplat.monitoring.drift.check_drift`."""
    return dict(cfg["drift"])
