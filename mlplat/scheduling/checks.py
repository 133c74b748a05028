"""The schedule's own checks on a composed config, for `mlplat check` (no job is run or scheduled)."""

from __future__ import annotations

import zoneinfo
from typing import Any

from mlplat.errors import ConfigError, MlplatError
from mlplat.scheduling.jobs import job_type
from mlplat.scheduling.runner import _check_params
from mlplat.scheduling.triggers import build_trigger, parse_every


def schedule_problems(plain: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, what is wrong) for each problem of the ``schedule`` group: time zone, grace, each job's
    type, trigger and parameters."""
    cfg = plain.get("schedule") or {}
    problems: list[tuple[str, str]] = []
    tz = str(cfg.get("timezone", "UTC"))
    try:
        zoneinfo.ZoneInfo(tz)
    except Exception:
        problems.append(("timezone", f"{tz!r} is not a time zone name (e.g. UTC, Europe/Paris)"))
        tz = "UTC"
    try:
        parse_every(str(cfg.get("misfire_grace", "10m")), "misfire_grace")
    except ConfigError as exc:
        problems.append(("misfire_grace", str(exc)))
    for name, spec in (cfg.get("jobs") or {}).items():
        key = f"jobs.{name}"
        if not isinstance(spec, dict) or "type" not in spec or "trigger" not in spec:
            problems.append((key, "a job needs 'type' and 'trigger' keys"))
            continue
        label = f"job {name!r}"
        checks = (("type", job_type, (str(spec["type"]), label)), ("trigger", build_trigger, (spec["trigger"], tz, label)),
                  ("params", _check_params, (dict(spec.get("params") or {}), label)))
        for part, check, args in checks:
            try:
                check(*args)
            except MlplatError as exc:
                problems.append((f"{key}.{part}", str(exc)))
    return problems
