"""`/mlplat drift <name>`: the served model's logged inputs against its stored reference profile.

Prefers a monitoring operation in ``mlplat.ops`` when one exists (``check_model_drift``);
until then it composes the library pieces that have landed: the version behind the
``production`` alias (else the latest), its run's ``profile.json`` artifact (sha256
checked), the prediction log, ``mlplat.monitoring.check_drift`` and ``to_html``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mlplat.errors import MonitoringError, NotFound

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str) -> float:
    from bot.parse import Refused

    unit = text[-1:]
    try:
        amount = float(text[:-1])
    except ValueError:
        amount = -1
    if unit not in UNITS or amount <= 0:
        raise Refused(f"malformed window {text!r}: use a number and a unit, e.g. 30m, 24h, 7d")
    return amount * UNITS[unit]


def _version(name: str) -> dict[str, Any]:
    from mlplat import ops

    model = ops.show_model(name)
    version = (model.get("aliases") or {}).get("production")
    if version is None:
        if not model.get("versions"):
            raise NotFound(f"model {name!r} has no versions")
        version = max(v["version"] for v in model["versions"])
    return ops.show_model(f"{name}:{version}")


def _profile(run_id: str) -> dict[str, Any]:
    from mlplat import ops
    from mlplat.tracking.artifacts import read_verified

    run = ops.show_run(run_id)
    art = next((a for a in run.get("artifacts") or [] if a["name"] == "profile.json"), None)
    if art is None:
        raise MonitoringError(f"run {run_id} has no reference profile (profile.json); retrain it with a version "
                              "of mlplat that records profiles")
    return json.loads(read_verified(art["path"], art["sha256"]))


def check(name: str, window_s: float | None, *, serving: dict[str, Any], monitor: dict[str, Any] | None) -> dict:
    from mlplat import ops

    op = getattr(ops, "check_model_drift", None)
    if op is not None:
        return op(name, since=time.time() - window_s if window_s else None)
    from mlplat.monitoring import check_drift, to_html

    version = _version(name)
    profile = _profile(version["run_id"])
    since = time.time() - window_s if window_s else None
    log = ops.read_prediction_log(name, since, root=(serving.get("prediction_log") or {}).get("dir"))
    if len(log) == 0:
        raise MonitoringError(f"no predictions of {name!r} were logged{' in that window' if window_s else ''}; "
                              f"serve it (`mlplat serve {name}`) and send traffic, or widen the window")
    current = log[[c for c in log.columns if c.startswith("input.")]].rename(columns=lambda c: c[len("input."):])
    proba = [c for c in log.columns if c.startswith("proba.")]
    # the profile's reference predictions are the positive-class probability for binary classifiers
    predictions = log[proba[-1]] if len(proba) == 2 else log["prediction"] if "prediction" in log else None
    result = check_drift(profile, current, config=(monitor or {}).get("drift") if isinstance(monitor, dict) else None,
                         predictions=predictions)
    return {"version": version["version"], "result": result.to_dict(),
            "html": to_html(result, title=f"Drift report: {name}:{version['version']}")}
