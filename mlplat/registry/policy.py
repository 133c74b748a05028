"""Promotion policy from conf/registry: roles of an actor, a target's rules, gate evaluation.

A gate result is ``pass``, ``fail`` or ``review`` (cannot be decided automatically, e.g. a
champion trained on different data: the approvers see it in the evidence and judge).
Any ``fail`` refuses the promotion before a request exists.
"""

from __future__ import annotations

import math
from typing import Any

from mlplat.errors import ConfigError, PermissionDenied, RegistryError
from mlplat.evaluation.metrics import get_metric

NOT_COMPARABLE = ("review", "fail")


def target_policy(policy: dict[str, Any], target: str) -> dict[str, Any]:
    targets = policy.get("targets") or {}
    if target not in targets:
        raise RegistryError(f"alias {target!r} has no promotion policy: expected one of "
                            f"{', '.join(sorted(targets)) or '(none)'}; add targets.{target} to conf/registry")
    return targets[target]


def roles_of(policy: dict[str, Any], actor: str) -> set[str]:
    return {role for role, members in (policy.get("roles") or {}).items()
            if "*" in (members or []) or actor in (members or [])}


def policy_file(group: str = "access") -> str:
    """The file to edit, for messages: the project's own conf/<group>/default.yaml (``access``,
    the roles table, by default); when the one in use is the shipped one (inside the installed
    package), the project file that would replace it."""
    from mlplat.config.compose import find_config
    from mlplat.project import find_project, shipped_conf

    found = find_config(f"{group}/default.yaml")
    project = find_project()
    own = project.base / "conf" / group / "default.yaml"
    if found is None or (found.is_relative_to(shipped_conf()) and own != found):
        return f"{own} (a project file replacing the shipped one; `mlplat init` writes one)"
    return str(found)


def require_role(policy: dict[str, Any], actor: str, allowed: list[str], what: str) -> None:
    """PermissionDenied naming the roles that may do ``what`` unless ``actor`` holds one."""
    if not set(allowed or []) & roles_of(policy, actor):
        key = f"roles.{allowed[0]}" if allowed else "roles"
        raise PermissionDenied(f"{actor!r} may not {what}: it needs one of the roles "
                               f"{', '.join(allowed) if allowed else '(none configured)'}; ask someone who has it, "
                               f"or add {actor!r} to {key} in {policy_file()}")


def _metric_direction(name: str) -> bool:
    try:
        return get_metric(name).greater_is_better
    except Exception as exc:  # unknown metric name in the policy file
        raise ConfigError(f"conf/registry names metric {name!r}, which mlplat does not know: {exc}") from exc


def _gate(name: str, status: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"gate": name, "status": status, "detail": detail, **extra}


def _metric(version: dict[str, Any], stage: str, metric: str) -> float | None:
    value = (version.get("metrics") or {}).get(stage, {}).get(metric)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def comparable(candidate: dict[str, Any], champion: dict[str, Any]) -> tuple[bool, str]:
    """Same held-out rows: the same data (fingerprint) split with the same seed and test size."""
    for key, label in (("dataset_fingerprint", "dataset fingerprint"), ("seed", "seed"), ("test_size", "test size")):
        if candidate.get(key) is None or candidate.get(key) != champion.get(key):
            return False, (f"not comparable: {label} differs (candidate {str(candidate.get(key))[:12]}, "
                           f"champion {str(champion.get(key))[:12]})")
    return True, "same held-out data"


def evaluate(gates: dict[str, Any], candidate: dict[str, Any], run: dict[str, Any] | None,
             champion: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every configured gate's result for ``candidate`` against the alias's current ``champion``."""
    results = []
    stage = gates.get("stage") or "holdout"
    if gates.get("run_completed", True):
        status = (run or {}).get("status")
        results.append(_gate("run_completed", "pass" if status == "done" else "fail", f"run status is {status}"))
    if gates.get("validation_passed", True):
        ok = bool((run or {}).get("validation_passed"))
        results.append(_gate("validation_passed", "pass" if ok else "fail",
                             "data validation passed" if ok else "data validation did not pass"))
    for metric, bound in (gates.get("thresholds") or {}).items():
        higher = _metric_direction(metric)
        value = _metric(candidate, stage, metric)
        if value is None:
            results.append(_gate(f"threshold:{metric}", "fail", f"no {stage} {metric} recorded", bound=bound))
            continue
        ok = value >= bound if higher else value <= bound
        results.append(_gate(f"threshold:{metric}", "pass" if ok else "fail",
                             f"{stage} {metric}={value:.4f} {'>=' if higher else '<='} {bound} "
                             f"{'holds' if ok else 'does not hold'}", value=value, bound=bound))
    beat = gates.get("beat_champion")
    if beat:
        results.append(_beat_champion(beat, stage, candidate, champion))
    return results


def _beat_champion(beat: dict[str, Any], stage: str, candidate: dict[str, Any],
                   champion: dict[str, Any] | None) -> dict[str, Any]:
    metric = beat.get("metric") or candidate.get("primary_metric")
    margin = float(beat.get("margin") or 0.0)
    on_nc = beat.get("on_not_comparable") or "review"
    if on_nc not in NOT_COMPARABLE:
        raise ConfigError(f"conf/registry beat_champion.on_not_comparable={on_nc!r}: expected one of "
                          f"{', '.join(NOT_COMPARABLE)}")
    if champion is None:
        return _gate("beat_champion", "pass", "no current version on this alias", metric=metric)
    if champion["version"] == candidate["version"]:
        return _gate("beat_champion", "pass", "candidate is the champion", metric=metric)
    ok_data, why = comparable(candidate, champion)
    cand, champ = _metric(candidate, stage, metric), _metric(champion, stage, metric)
    extra = {"metric": metric, "candidate": cand, "champion": champ, "champion_version": champion["version"],
             "margin": margin, "comparable": ok_data}
    if not ok_data:
        return _gate("beat_champion", on_nc, f"{why}; {metric} {cand} vs {champ}", **extra)
    if cand is None or champ is None:
        return _gate("beat_champion", "fail", f"{stage} {metric} missing (candidate {cand}, champion {champ})",
                     **extra)
    higher = _metric_direction(metric)
    # strictly better: a candidate equal to the champion (plus the margin) does not beat it
    ok = cand > champ + margin if higher else cand < champ - margin
    sign = "+" if higher else "-"
    return _gate("beat_champion", "pass" if ok else "fail",
                 f"{stage} {metric} {cand:.4f} vs champion v{champion['version']} {champ:.4f} {sign} margin {margin}"
                 f" ({'beats' if ok else 'does not beat'} it)", **extra)
