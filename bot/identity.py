"""Who a Slack user is to mlplat's one permission model (mlplat.ops.access, conf/access).

The actor passed to ``mlplat.ops`` is always the Slack user id (so the audit trail names
the person), with ``source="slack"``. Slack user groups can only be resolved by the bot
(usergroups.users.list), so the bot reads the memberships of the groups the roles table
names and passes them with each operation; ops then applies the same check as for every
other door, and the registry its per-alias rules (approver roles, four-eyes, gates).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from mlplat_bot.settings import BotSettings

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
    """A Slack user as mlplat's one permission model sees them (mlplat.ops.access): ``slack:<id>``
    plus ``slack-group:<id>`` for each user group of the roles table they are in."""

    def __init__(self, settings: BotSettings, groups: GroupCache):
        self.settings, self.groups = settings, groups

    def groups_of(self, user: str) -> tuple[str, ...]:
        from mlplat.ops.access import group_ids

        return tuple(sorted(g for g in group_ids(self.settings.access) if user in self.groups.members(g)))

    def who(self, user: str):
        from mlplat.ops.access import identity

        return identity(user, SOURCE, self.groups_of(user))

    def has(self, user: str, operation: str) -> bool:
        from mlplat.ops.access import allowed

        return allowed(operation, self.who(user), self.settings.access)

    def require(self, user: str, operation: str, what: str) -> None:
        """PermissionDenied (one line naming the roles and conf/access) unless ``user`` may."""
        from mlplat.ops.access import check

        check(operation, self.who(user), self.settings.access, what=f"{what} from Slack")

    def ops_args(self, user: str) -> dict[str, Any]:
        """What every registry operation gets for this user: the Slack groups they are in, the
        registry policy and the roles table (composed once at start-up)."""
        return {"groups": self.groups_of(user), "policy": self.settings.registry, "access": self.settings.access}
