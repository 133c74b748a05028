"""The one permission model: who may train, sweep, register, promote, approve, reject, roll
back or run a schedule job, whichever door the request comes through.

One roles table (the ``access`` config group, ``conf/access/default.yaml``) maps identities to
roles, and each operation names the roles that may perform it. An identity is what the door
knows about the person:

- the CLI and the scheduler: the OS user (or ``MLPLAT_ACTOR``), by name;
- CI: ``MLPLAT_ACTOR=mlplat-ci`` (the name the CI templates set), by name;
- the web UI: the user its authenticating proxy asserts, by name;
- Slack: ``slack:<user id>`` and ``slack-group:<user group id>`` for each group the bot found
  the user in (the bot resolves memberships; only it can ask Slack).

``"*"`` in a role's members is any named identity (OS, CI, UI) and ``"slack:*"`` any Slack
user: chat reaches the whole workspace, so a workspace-wide grant is spelled out. The role
``admin`` may perform every operation. Per-alias rules (who may request or approve a promotion
to which alias, four-eyes, gates) stay in conf/registry and are evaluated against the same
roles by mlplat.registry: ``registry_policy`` hands the registry exactly the roles of the
identity acting, so the recorded actor (the name, or the Slack user id) is what four-eyes
compares.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from mlplat.errors import ConfigError, PermissionDenied
from mlplat.ops.common import compose_plain

OPERATIONS = ("view", "train", "sweep", "register", "promote", "approve", "reject", "rollback", "schedule")
ADMIN = "admin"
SLACK_SOURCES = ("slack",)
ACCESS_FILE = "conf/access/default.yaml"


@dataclass(frozen=True)
class Identity:
    """Who is acting: ``name`` is what the audit trail records (an OS user, ``mlplat-ci``, the UI's
    proxy user, a Slack user id); ``door`` is the front door; ``groups`` the Slack user groups."""

    name: str
    door: str = "cli"
    groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def principals(self) -> set[str]:
        if self.door in SLACK_SOURCES:
            return {f"slack:{self.name}", "slack:*", *(f"slack-group:{g}" for g in self.groups)}
        return {self.name, "*"}

    def label(self) -> str:
        return f"slack:{self.name}" if self.door in SLACK_SOURCES else self.name


def legacy(policy: dict[str, Any]) -> dict[str, Any]:
    """The access settings an explicitly passed registry policy with its own ``roles`` (the Python
    API, before conf/access existed) stands for: its members match by name at every door, its
    ``rollback_roles`` may roll back, and every other operation is left to the registry's rules."""
    roles = {role: sorted({*(members or []), *(("slack:*",) if "*" in (members or []) else ()),
                           *(f"slack:{m}" for m in members or [] if m != "*")})
             for role, members in (policy.get("roles") or {}).items()}
    everyone = sorted(roles)
    ops = {op: everyone for op in OPERATIONS}
    ops["rollback"] = [r for r in policy.get("rollback_roles") or [] if r in roles]
    return {"roles": roles, "operations": ops}


def identity(actor: str, source: str, groups: tuple[str, ...] | list[str] = ()) -> Identity:
    """The identity of ``actor`` coming through ``source`` (the door the operations record)."""
    return Identity(str(actor), "slack" if source in SLACK_SOURCES else str(source), tuple(groups or ()))


def settings(access: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``access`` group (composed when not given), checked: every operation and role known."""
    if access is None:
        access = compose_plain([]).get("access")
    if not isinstance(access, dict):
        raise ConfigError(f"the config has no `access` group: add `- access: default` to conf/config.yaml's "
                          f"defaults (see {ACCESS_FILE})")
    roles = access.get("roles") or {}
    ops = access.get("operations") or {}
    unknown = sorted(set(ops) - set(OPERATIONS))
    if unknown:
        raise ConfigError(f"access.operations has unknown operation(s) {', '.join(unknown)}: expected "
                          f"{', '.join(OPERATIONS)} ({ACCESS_FILE})")
    for op, allowed in ops.items():
        missing = sorted(set(allowed or []) - set(roles) - {ADMIN})
        if missing:
            raise ConfigError(f"access.operations.{op} names role(s) {', '.join(missing)} that access.roles does "
                              f"not define ({ACCESS_FILE})")
    return access


def roles_of(who: Identity, access: dict[str, Any]) -> set[str]:
    held = who.principals
    return {role for role, members in (access.get("roles") or {}).items() if held & set(members or [])}


def group_ids(access: dict[str, Any]) -> set[str]:
    """Every Slack user group the roles table names (what the bot must resolve for a user)."""
    return {m.removeprefix("slack-group:") for members in (access.get("roles") or {}).values()
            for m in members or [] if str(m).startswith("slack-group:")}


def allowed(operation: str, who: Identity, access: dict[str, Any] | None = None) -> bool:
    access = settings(access)
    need = set((access.get("operations") or {}).get(operation) or [])
    held = roles_of(who, access)
    return ADMIN in held or bool(need & held)


def check(operation: str, who: Identity, access: dict[str, Any] | None = None, *, what: str | None = None) -> None:
    """PermissionDenied (one line: who, what, the roles that may, where to grant them) unless allowed."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}")
    access = settings(access)
    if allowed(operation, who, access):
        return
    from mlplat.registry.policy import policy_file

    need = list((access.get("operations") or {}).get(operation) or [])
    key = f"roles.{need[0]}" if need else "roles"
    raise PermissionDenied(f"{who.label()!r} may not {what or operation}: it needs one of the roles "
                           f"{', '.join(need) if need else '(none configured)'} (operations.{operation}); "
                           f"ask someone who has it, or add {who.label()!r} to {key} in {policy_file()}")


def registry_policy(policy: dict[str, Any], who: Identity, access: dict[str, Any] | None = None,
                    operation: str | None = None) -> dict[str, Any]:
    """conf/registry's policy with ``roles`` replaced by the roles ``who`` holds in the one table,
    each listing ``who.name``: the registry's per-alias rules (requester and approver roles,
    four-eyes on the recorded actor) then see the same roles every other check sees.

    ``operation`` approve or reject: only the roles ``operations.<operation>`` names count, so the
    registry refuses (and audits, as governance wants every denied decision on record) an
    approver whose role may not approve."""
    access = settings(access)
    held = roles_of(who, access)
    if operation and ADMIN not in held:
        held &= set((access.get("operations") or {}).get(operation) or [])
    out = copy.deepcopy(policy)
    out["roles"] = {role: [who.name] for role in held}
    if ADMIN in held:  # admin holds every role the registry names
        named = {r for t in (out.get("targets") or {}).values()
                 for r in [*(t.get("requester_roles") or []), *(t.get("approver_roles") or [])]}
        out["roles"].update({role: [who.name] for role in named})
    return out


def rules(policy: dict[str, Any] | None, access: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(registry policy, access settings): the composed groups for what is not given; an explicit
    policy carrying its own ``roles`` is its own roles table (``legacy``)."""
    if policy is not None and access is None and policy.get("roles"):
        return policy, legacy(policy)
    plain = compose_plain([]) if policy is None or access is None else {}
    policy = policy if policy is not None else (plain.get("registry") or {})
    if access is None:
        if (plain.get("registry") or {}).get("roles") or (plain.get("registry") or {}).get("rollback_roles"):
            raise ConfigError("registry.roles and registry.rollback_roles moved to the one roles table: put the "
                              f"people in access.roles and the rollback roles in access.operations.rollback "
                              f"({ACCESS_FILE}), and delete them from conf/registry")
        access = plain.get("access")
    return policy, settings(access)


def check_env(operation: str, access: dict[str, Any] | None = None, *, what: str | None = None) -> None:
    """``check`` for the identity a process acts as: MLPLAT_ACTOR (or the OS user) through the
    door MLPLAT_SOURCE (default cli), with the Slack groups in MLPLAT_ACTOR_GROUPS (set by the bot
    for the sweeps it starts, with MLPLAT_ACCESS: the table the bot decided with). Like
    MLPLAT_ACTOR these variables are trusted: they serve automation and the bot's own child
    processes, and are no boundary against someone who can set a process's environment."""
    import os

    from mlplat.ops.common import actor_from_env

    groups = tuple(g for g in os.environ.get("MLPLAT_ACTOR_GROUPS", "").split(",") if g)
    if os.environ.get("MLPLAT_ACCESS"):  # the roles table of the bot that started this sweep
        import json

        access = json.loads(os.environ["MLPLAT_ACCESS"])
    check(operation, identity(actor_from_env(), os.environ.get("MLPLAT_SOURCE") or "cli", groups), access,
          what=what)


# the names ops re-exports (``ops.check_access(...)``); inside mlplat import the module
check_access, check_access_env, may, access_roles = check, check_env, allowed, roles_of
access_rules, access_registry_policy, access_group_ids = rules, registry_policy, group_ids

__all__ = ["Identity", "identity", "check_access", "check_access_env", "may", "access_roles", "access_rules",
           "access_registry_policy", "access_group_ids"]
