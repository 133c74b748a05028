"""Aliases (``production``, ``staging``, custom): compare-and-set moves with a full history.

Each move names the version it expects the alias to hold; if another transaction moved it
first, the UPDATE matches no row and the move fails instead of silently overwriting.
The history answers "which version did production serve at time T" and gives rollback
its target.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from mlplat.errors import NotFound, RegistryError
from mlplat.registry.schema import alias_history, model_aliases
from mlplat.tracking import audit
from mlplat.tracking.store import now


def current(conn: sa.Connection, name: str, alias: str) -> int | None:
    return conn.execute(sa.select(model_aliases.c.version).where(
        model_aliases.c.name == name, model_aliases.c.alias == alias)).scalar()


def move(conn: sa.Connection, name: str, alias: str, version: int, *, expected: int | None, action: str,
         actor: str, source: str, request_id: str | None = None) -> None:
    """Point ``alias`` at ``version`` if it still holds ``expected`` (None: has no version yet)."""
    ts = now()
    if expected is None:
        try:
            with conn.begin_nested():
                conn.execute(model_aliases.insert().values(name=name, alias=alias, version=version, updated_at=ts,
                                                           actor=actor))
        except sa.exc.IntegrityError:
            raised = True
        else:
            raised = False
        if raised:
            raise RegistryError(f"{name}@{alias} was set by someone else meanwhile; look at "
                                f"`mlplat models show {name}@{alias}` and retry if still wanted")
    else:
        done = conn.execute(model_aliases.update().where(
            model_aliases.c.name == name, model_aliases.c.alias == alias, model_aliases.c.version == expected,
        ).values(version=version, updated_at=ts, actor=actor)).rowcount
        if done != 1:
            raise RegistryError(f"{name}@{alias} no longer points at version {expected} (moved meanwhile); look at "
                                f"`mlplat models show {name}@{alias}` and retry if still wanted")
    conn.execute(alias_history.insert().values(name=name, alias=alias, version=version, previous_version=expected,
                                               ts=ts, action=action, actor=actor, source=source,
                                               request_id=request_id))
    audit.append(conn, actor=actor, source=source, action=f"alias.{action}", object_type="alias",
                 object_id=f"{name}@{alias}", payload={"version": version, "previous_version": expected,
                                                       "request_id": request_id})


def at(conn: sa.Connection, name: str, alias: str, ts: float) -> int | None:
    """The version ``alias`` pointed at, at time ``ts`` (None: it did not exist yet)."""
    return conn.execute(sa.select(alias_history.c.version).where(
        alias_history.c.name == name, alias_history.c.alias == alias, alias_history.c.ts <= ts,
    ).order_by(alias_history.c.ts.desc(), alias_history.c.id.desc()).limit(1)).scalar()


def history(conn: sa.Connection, name: str, alias: str | None = None) -> list[dict[str, Any]]:
    q = sa.select(alias_history).where(alias_history.c.name == name)
    if alias:
        q = q.where(alias_history.c.alias == alias)
    return [dict(r._mapping) for r in conn.execute(q.order_by(alias_history.c.id.desc()))]


def rollback_target(conn: sa.Connection, name: str, alias: str) -> tuple[int, int]:
    """(current version, the version before it was promoted) for ``alias``.

    The previous version comes from the promotion that put the current version there, so
    successive rollbacks walk back through the promotions (3 -> 2 -> 1), not back and forth.
    """
    cur = current(conn, name, alias)
    if cur is None:
        raise NotFound(f"{name}@{alias} is not set; nothing to roll back")
    prev = conn.execute(sa.select(alias_history.c.previous_version).where(
        alias_history.c.name == name, alias_history.c.alias == alias, alias_history.c.version == cur,
        alias_history.c.action == "promote",
    ).order_by(alias_history.c.id.desc()).limit(1)).scalar()
    if prev is None:
        raise RegistryError(f"{name}@{alias} has no earlier version to roll back to (version {cur} was its first); "
                            f"promote another version instead, or pass --to VERSION")
    return cur, prev
