"""`mlplat check`'s cross-references between groups: registry roles, aliases and metrics, the
bot's allow-list, the monitor and CI settings, and the ``_target_`` modules every YAML file names."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from mlplat.ci.check_report import Report, _key_of, _rel, _where
from mlplat.errors import MlplatError


def _check_registry(plain: dict, report: Report) -> None:
    from mlplat.evaluation.metrics import METRICS
    from mlplat.registry.policy import NOT_COMPARABLE
    from mlplat.registry.refs import ALIAS_RE

    reg = plain.get("registry") or {}
    where = _where("registry/default.yaml")
    access = plain.get("access") or {}
    roles = set(access.get("roles") or {}) | {"admin"}
    if reg.get("roles") or reg.get("rollback_roles"):
        report.add(where, "roles", "registry.roles and rollback_roles moved to conf/access/default.yaml (roles, "
                                   "operations.rollback): move them there", "registry")
    for op, listed in (access.get("operations") or {}).items():
        for role in listed or []:
            if role not in roles:
                report.add(_where("access/default.yaml"), f"operations.{op}", f"role {role!r} is not defined in "
                           f"`roles` (defined: {', '.join(sorted(roles))}); add it there or fix the name", "registry")

    def role_refs(key: str, listed: list | None) -> None:
        for role in listed or []:
            if role != "*" and role not in roles:
                report.add(where, key, f"role {role!r} is not defined in `roles` (defined: "
                                       f"{', '.join(sorted(roles)) or 'none'}); add it there or fix the name",
                           "registry")

    targets = reg.get("targets") or {}
    for target, tp in targets.items():
        key = f"targets.{target}"
        if not ALIAS_RE.match(str(target)):
            report.add(where, key, f"alias {target!r} is not a valid alias name: use letters, digits, '_', '-' "
                                   "starting with a letter", "registry")
        role_refs(f"{key}.requester_roles", tp.get("requester_roles"))
        role_refs(f"{key}.approver_roles", tp.get("approver_roles"))
        if int(tp.get("approvals") or 0) > 0 and not tp.get("approver_roles"):
            report.add(where, f"{key}.approver_roles", f"{tp.get('approvals')} approval(s) needed but no approver "
                                                       "role: nobody could approve; list the roles that may",
                       "registry")
        gates = tp.get("gates") or {}
        if str(gates.get("stage") or "holdout") not in ("holdout", "cv"):
            report.add(where, f"{key}.gates.stage", f"stage {gates.get('stage')!r} is not holdout or cv", "registry")
        for metric in gates.get("thresholds") or {}:
            if metric not in METRICS:
                report.add(where, f"{key}.gates.thresholds.{metric}", f"unknown metric {metric!r}: expected one "
                                                                      f"of {', '.join(METRICS)}", "registry")
        beat = gates.get("beat_champion") or {}
        if beat:
            if beat.get("metric") and beat["metric"] not in METRICS:
                report.add(where, f"{key}.gates.beat_champion.metric", f"unknown metric {beat['metric']!r}: "
                                                                       f"expected one of {', '.join(METRICS)}",
                           "registry")
            if (beat.get("on_not_comparable") or "review") not in NOT_COMPARABLE:
                report.add(where, f"{key}.gates.beat_champion.on_not_comparable",
                           f"{beat.get('on_not_comparable')!r} is not one of {', '.join(NOT_COMPARABLE)}", "registry")
    auto = reg.get("auto_register") or {}
    if auto.get("enabled") and not auto.get("name"):
        report.add(where, "auto_register.name", "auto-registration is enabled but no model name is set", "registry")
    # aliases other groups promote to must have a policy
    refs = [(_where("ci/default.yaml"), "target", (plain.get("ci") or {}).get("target")),
            (_where("bot/default.yaml"), "alerts.retrain.target",
             (((plain.get("bot") or {}).get("alerts") or {}).get("retrain") or {}).get("target")),
            (_where("monitor/default.yaml"), "retrain.request_to",
             ((plain.get("monitor") or {}).get("retrain") or {}).get("request_to"))]
    for file, key, alias in refs:
        if alias and alias not in targets:
            report.add(file, key, f"alias {alias!r} has no promotion policy in conf/registry targets (has "
                                  f"{', '.join(sorted(targets)) or 'none'}); add targets.{alias} or fix the name",
                       "registry")
    report.count("registry policies")


def _key_exists(key: str, configs: list[dict]) -> bool:
    for cfg in configs:
        node: Any = cfg
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return True
    return False


def _check_bot(plain: dict, options: dict[str, list[dict]], report: Report) -> None:
    where = _where("bot/default.yaml")
    bot = plain.get("bot") or {}
    # who may do what from chat is conf/access (mlplat.ops.access), like every other door
    for key in ("roles", "grants"):
        if bot.get(key):
            report.add(where, key, f"bot.{key} moved to the one roles table: list Slack users as slack:U... and "
                                   "groups as slack-group:S... under roles in conf/access/default.yaml", "bot")
    allow = bot.get("allow") or {}
    max_jobs = allow.get("max_sweep_jobs")
    if not isinstance(max_jobs, int) or max_jobs < 1:
        report.add(where, "allow.max_sweep_jobs", f"must be a whole number >= 1, got {max_jobs!r}", "bot")
    from mlplat.config.compose import is_group

    for group in allow.get("groups") or []:
        if not is_group(str(group)):
            report.add(where, "allow.groups", f"config group {group!r} does not exist under conf/; remove it or "
                                              "fix the name", "bot")
    for key in allow.get("params") or {}:
        group = key.split(".", 1)[0]
        configs = [plain, *options.get(group, [])]
        if not _key_exists(key, configs):
            report.add(where, f"allow.params.{key}", f"key {key!r} exists in no config of the tree (looked in the "
                                                     f"defaults and every {group} option); fix the key", "bot")
    report.count("bot allow-lists")


def _check_monitor(plain: dict, report: Report) -> None:
    from mlplat.monitoring.settings import load

    try:
        load(plain.get("monitor"))
    except MlplatError as exc:
        report.add(_where("monitor/default.yaml"), _key_of(exc), str(exc), "monitor")


def _check_ci(plain: dict, report: Report) -> None:
    from mlplat.ci.settings import load

    try:
        load(plain)
    except MlplatError as exc:
        report.add(_where("ci/default.yaml"), _key_of(exc), str(exc), "ci")


def _check_targets(report: Report) -> None:
    """Every ``_target_`` written in a YAML file names a module that can be imported."""
    from mlplat.config.compose import config_dirs

    for path in sorted({p for d in config_dirs() for p in d.rglob("*.yaml")}):
        for m in re.finditer(r"^\s*_target_:\s*['\"]?([\w.]+)", path.read_text(), re.M):
            module = m.group(1).rsplit(".", 1)[0]
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                report.add(_rel(path), "_target_", f"module {module!r} of {m.group(1)!r} cannot be imported; "
                                                   "install the package that provides it or fix the path", "target")
