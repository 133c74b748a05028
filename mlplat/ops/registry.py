"""Operations on the model registry, promotions, approvals and the audit trail.

Every rule (roles, four-eyes, gates, compare-and-set transitions) is enforced below this
module's callers: the CLI passes the OS user, the Slack bot will pass Slack user ids, and
both get the same answers. ``policy`` defaults to the composed ``registry`` config group;
``store`` to the configured store. Each function returns plain data (dicts and lists).
"""

from __future__ import annotations

from typing import Any

from mlplat.errors import ConfigError, NotFound, RegistryError
from mlplat.ops import access as acc
from mlplat.ops.common import compose_plain, open_store
from mlplat.registry import aliases, approvals, replay, versions
from mlplat.tracking import audit
from mlplat.tracking.runs import get_sweep


def _store(store):
    return store or open_store()


def _policy(policy: dict | None) -> dict:
    if policy is not None:
        return policy
    return compose_plain([])["registry"] or {}


def _guard(operation: str, actor: str, source: str, groups, policy: dict | None, access: dict | None,
           what: str) -> dict:
    """The one permission check (mlplat.ops.access) at the operation's entry; returns the registry
    policy with the roles ``actor`` holds in the one roles table, for the per-alias rules."""
    policy, settings = acc.rules(policy, access)
    who = acc.identity(actor, source, groups)
    acc.check(operation, who, settings, what=what)
    return acc.registry_policy(policy, who, settings)


def register(run_id: str, name: str, *, actor: str, source: str, description: str | None = None,
             tags: dict[str, str] | None = None, store=None, groups=(), policy: dict | None = None,
             access: dict | None = None) -> dict[str, Any]:
    """Register the finished run ``run_id`` (or a unique prefix) as the next version of ``name``."""
    _guard("register", actor, source, groups, policy, access, f"register models ({name})")
    return versions.register(_store(store), run_id, name, actor=actor, source=source, description=description,
                             tags=tags)


def register_best_of_sweep(sweep_id: str, name: str | None = None, *, actor: str, source: str, store=None,
                           policy: dict | None = None) -> dict[str, Any] | None:
    """Register a finished sweep's best run; ``name`` defaults to registry.auto_register.name.

    Returns None when no name is given and auto-registration is disabled in config, so the
    sweep runner can call it unconditionally.
    """
    auto = _policy(policy).get("auto_register") or {}
    if name is None:
        if not auto.get("enabled"):
            return None
        name = auto.get("name")
        if not name:
            raise ConfigError("registry.auto_register.enabled is true but registry.auto_register.name is empty; "
                              "set the model name in conf/registry")
    store = _store(store)
    sweep = get_sweep(store, sweep_id)
    if not sweep.get("best_run_id"):
        raise RegistryError(f"sweep {sweep['id']} has no best run yet (status {sweep['status']}); wait for it to "
                            "finish with at least one successful trial")
    return register(sweep["best_run_id"], name, actor=actor, source=source, store=store,
                    description=f"best run of sweep {sweep['id']}", tags={"sweep_id": sweep["id"]})


def show_model(ref: str, *, at: float | None = None, store=None) -> dict[str, Any]:
    """``name`` (model, its versions and aliases), ``name:3`` or ``name@alias`` (one version).

    With ``at`` (epoch seconds) and an alias: the version the alias pointed at then.
    """
    store = _store(store)
    r = versions.parse_ref(ref)
    if at is not None:
        if not r.alias:
            raise RegistryError(f"--at needs an alias reference like {r.name}@production (got {ref!r})")
        with store.read() as conn:
            versions.resolve(conn, versions.Ref(r.name))
            v = aliases.at(conn, r.name, r.alias, at)
        if v is None:
            raise NotFound(f"{r.name}@{r.alias} pointed at no version at that time (it was set later or never)")
        r = versions.Ref(r.name, version=v)
    if r.version is None and r.alias is None:
        out = {"name": r.name, "versions": versions.list_versions(store, r.name)}
        with store.read() as conn:
            out["aliases"] = versions.aliases_of(conn, r.name)
            out["alias_history"] = aliases.history(conn, r.name)
        return out
    return versions.get(store, r)


def alias_history(name: str, alias: str | None = None, *, store=None) -> list[dict[str, Any]]:
    with _store(store).read() as conn:
        versions.resolve(conn, versions.Ref(versions.check_name(name)))
        return aliases.history(conn, name, alias)


def request_promotion(name: str, version: int, to: str, *, actor: str, source: str, store=None,
                      policy: dict | None = None, context: dict | None = None, groups=(),
                      access: dict | None = None) -> dict[str, Any]:
    """Evaluate the gates of alias ``to`` for ``name:version`` and open an approval request.

    Refused (RegistryError naming each failed gate, audited) when a gate fails; applied at
    once when the target needs no approvals. ``context`` (CI: pull request, report summary)
    travels in the request's evidence to the approvers.
    """
    policy = _guard("promote", actor, source, groups, policy, access, f"request a promotion to {to}")
    return approvals.request(_store(store), policy, versions.Ref(versions.check_name(name),
                                                                          version=int(version)),
                             to, actor=actor, source=source, context=context)


promote = request_promotion


def approve(request_id: str, *, actor: str, source: str, comment: str | None = None, store=None,
            policy: dict | None = None, groups=(), access: dict | None = None) -> dict[str, Any]:
    # the registry decides (four-eyes first, then the approver roles) and audits a denial
    policy, settings = acc.rules(policy, access)
    policy = acc.registry_policy(policy, acc.identity(actor, source, groups), settings, "approve")
    return approvals.approve(_store(store), policy, request_id.strip(), actor=actor, source=source,
                             comment=comment)


def reject(request_id: str, *, actor: str, source: str, reason: str, store=None,
           policy: dict | None = None, groups=(), access: dict | None = None) -> dict[str, Any]:
    # the requester may always withdraw their own request; others need a role operations.reject
    # names and the alias's approver role (the registry checks both and audits a denial)
    policy, settings = acc.rules(policy, access)
    policy = acc.registry_policy(policy, acc.identity(actor, source, groups), settings, "reject")
    return approvals.reject(_store(store), policy, request_id.strip(), actor=actor, source=source,
                            reason=reason)


def show_approval(request_id: str, *, store=None) -> dict[str, Any]:
    with _store(store).read() as conn:
        return approvals.get(conn, request_id.strip())


def rollback(name: str, *, actor: str, source: str, alias: str = "production", to: int | None = None,
             store=None, policy: dict | None = None, groups=(), access: dict | None = None) -> dict[str, Any]:
    """Point ``alias`` back at the version it held before the current one (or ``to``, which it held once)."""
    _guard("rollback", actor, source, groups, policy, access, f"roll back {name}@{alias}")
    store = _store(store)
    with store.write() as conn:
        versions.resolve(conn, versions.Ref(versions.check_name(name)))
        if to is None:
            cur, target = aliases.rollback_target(conn, name, alias)
        else:
            cur = aliases.current(conn, name, alias)
            served = {h["version"] for h in aliases.history(conn, name, alias)}
            if to not in served:
                raise RegistryError(f"{name}@{alias} never pointed at version {to} (it held "
                                    f"{', '.join(map(str, sorted(served))) or 'nothing'}); rollback only returns to "
                                    "a version the alias served; promote other versions instead")
            if cur == to:
                raise RegistryError(f"{name}@{alias} already points at version {to}; nothing to do")
            target = to
        aliases.move(conn, name, alias, target, expected=cur, action="rollback", actor=actor, source=source)
    return {"name": name, "alias": alias, "from_version": cur, "to_version": target}


def audit_verify(*, store=None) -> dict[str, Any]:
    """Walk the hash chain, check every entry's MAC and the signed checkpoints (and this
    machine's witness file), then replay the trail against the registry's tables.

    ``ok`` False: ``reason`` names the first entry edited, deleted, reordered, rewritten or cut
    from the end, or ``unexplained`` lists registry rows the trail does not explain."""
    with _store(store).read() as conn:
        v = audit.verify(conn)
        unexplained = replay.replay(conn) if v.ok else []
        latest = audit.checkpoints(conn, limit=1)
    return {"ok": v.ok and not unexplained, "entries": v.entries, "first_bad_seq": v.first_bad_seq,
            "reason": v.reason or (f"{len(unexplained)} registry row(s) the trail does not explain"
                                   if unexplained else ""),
            "signed": v.signed, "unsigned": v.unsigned, "checkpoints": v.checkpoints, "head_seq": v.head_seq,
            "head_hash": v.head_hash, "key_id": v.key_id, "witness": v.witness, "unexplained": unexplained,
            "last_checkpoint": latest[0] if latest else None}


def audit_checkpoint(*, actor: str, source: str, store=None) -> dict[str, Any]:
    """Sign the trail's head now (a checkpoint ``verify`` compares); refused on a trail that does not verify."""
    store = _store(store)
    with store.read() as conn:
        v = audit.verify(conn, remember=False)
    if not v.ok:
        raise RegistryError(f"the audit trail does not verify ({v.reason}): no checkpoint signed over it; "
                            "investigate with `mlplat audit verify`")
    with store.write() as conn:
        return audit.checkpoint(conn, actor=actor, source=source)


__all__ = ["register", "register_best_of_sweep", "show_model", "alias_history",
           "request_promotion", "promote", "approve", "reject", "show_approval", "rollback",
           "audit_verify", "audit_checkpoint"]
