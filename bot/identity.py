"""Who a Slack user is to mlplat: their bot roles, and the registry roles those stand for.

The actor passed to ``mlplat.ops`` is always the Slack user id (so the audit trail names
the person), with ``source="slack"``. Slack user groups can only be resolved by the bot
(usergroups.users.list), so the bot expands them and hands the registry its own policy
with this user added to the registry roles their bot roles grant; the registry then
applies its rules (approver roles, four-eyes, gates) exactly as for the CLI.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mlplat_bot.settings import ROLES, BotSettings

log = logging.getLogger("mlplat.bot")
SOURCE = "slack"


class GroupCache:
    """Members of Slack user groups, fetched at most once per ``ttl_s`` per group."""

    def __init__(self, fetch: Callable[[str], list[str]] | None, ttl_s: float):
        self._fetch, self._ttl = fetch, ttl_s
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every group (membership changed in Slack and should apply now)."""
        with self._lock:
            self._cache.clear()

    def members(self, group: str) -> frozenset[str]:
        with self._lock:
            hit = self._cache.get(group)
            if hit and time.monotonic() - hit[0] < self._ttl:
                return hit[1]
        if self._fetch is None:
            return frozenset()
        try:
            users = frozenset(self._fetch(group))
        except Exception as exc:  # Slack unreachable: keep the stale answer rather than grant nothing silently
            log.warning("cannot read members of user group %s: %s", group, exc)
            return hit[1] if hit else frozenset()
        with self._lock:
            self._cache[group] = (time.monotonic(), users)
        return users


class Identity:
    def __init__(self, settings: BotSettings, groups: GroupCache):
        self.settings, self.groups = settings, groups

    def roles(self, user: str) -> set[str]:
        held: set[str] = set()
        for role in ROLES:
            spec = self.settings.roles.get(role) or {}
            users = spec.get("users") or []
            if "*" in users or user in users or any(user in self.groups.members(g) for g in spec.get("groups") or []):
                held.add(role)
        return held

    def has(self, user: str, role: str) -> bool:
        held = self.roles(user)
        return role in held or "admin" in held

    def policy_for(self, user: str) -> dict[str, Any]:
        """conf/registry's policy with ``user`` added to the registry roles their bot roles grant."""
        policy = copy.deepcopy(self.settings.registry)
        roles = policy.setdefault("roles", {})
        for bot_role in self.roles(user):
            for reg_role in self.settings.grants.get(bot_role) or []:
                members = list(roles.get(reg_role) or [])
                if user not in members:
                    roles[reg_role] = [*members, user]
        return policy
