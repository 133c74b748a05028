"""The bot's settings: conf/bot (composed with the rest of the tree) and the Slack tokens.

Every mistake here is one line naming the key or variable, the value got and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mlplat.errors import BotError, MlplatError

TOKEN_PREFIX = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-"}


@dataclass
class BotSettings:
    access: dict[str, Any]  # conf/access, the one roles table (mlplat.ops.access)
    channels: dict[str, str]
    allow: dict[str, Any]
    registry: dict[str, Any]  # conf/registry, composed once: ops get it explicitly (no compose per call)
    serving: dict[str, Any]
    monitor: dict[str, Any] | None = None
    governance: dict[str, Any] | None = None
    group_cache_s: float = 300.0
    workers: int = 2
    progress_every_s: float = 5.0
    sweep_timeout_s: float = 7200.0
    per_channel_interval_s: float = 1.0
    max_retries: int = 5
    alerts: dict[str, Any] = field(default_factory=dict)
    chat_user: str | None = None


def from_plain(plain: dict[str, Any]) -> BotSettings:
    """Settings from a composed config (``compose_plain`` output)."""
    bot = plain.get("bot")
    if not isinstance(bot, dict):
        raise BotError("the config has no `bot` group: add `- bot: default` to conf/config.yaml's defaults "
                       "(see conf/bot/default.yaml)")
    if bot.get("roles") or bot.get("grants"):
        raise BotError("bot.roles and bot.grants moved to the one roles table: list Slack users as "
                       "slack:U... and user groups as slack-group:S... under access.roles in "
                       "conf/access/default.yaml, and delete roles/grants from conf/bot")
    from mlplat.ops.access import settings as access_settings

    try:
        access = access_settings(plain.get("access"))
    except MlplatError as exc:
        raise BotError(str(exc)) from exc
    max_jobs = (bot.get("allow") or {}).get("max_sweep_jobs")
    if not isinstance(max_jobs, int) or max_jobs < 1:
        raise BotError(f"bot.allow.max_sweep_jobs must be a whole number >= 1, got {max_jobs!r} (conf/bot)")
    return BotSettings(
        access=access,
        channels={k: str(v or "") for k, v in (bot.get("channels") or {}).items()},
        allow=dict(bot.get("allow") or {}),
        registry=plain.get("registry") or {},
        serving=plain.get("serving") or {},
        monitor=plain.get("monitor"),
        governance=plain.get("governance") or {},
        group_cache_s=float(bot.get("group_cache_s", 300)),
        workers=int(bot.get("workers", 2)),
        progress_every_s=float(bot.get("progress_every_s", 5.0)),
        sweep_timeout_s=float(bot.get("sweep_timeout_s", 7200)),
        per_channel_interval_s=float(bot.get("per_channel_interval_s", 1.0)),
        max_retries=int(bot.get("max_retries", 5)),
        alerts=dict(bot.get("alerts") or {}),
        chat_user=bot.get("chat_user"),
    )


def load(overrides: list[str] | None = None) -> BotSettings:
    from mlplat import ops

    return from_plain(ops.compose_plain(list(overrides or [])))


def token(name: str, env: dict[str, str] | None = None) -> str:
    """A Slack credential from the environment, checked: one line naming what is missing or malformed."""
    value = (env if env is not None else os.environ).get(name, "")
    if not value.strip():
        raise BotError(f"{name} is not set: export it (see docs/slack.md: tokens) and start the bot again")
    if value != value.strip() or any(c.isspace() for c in value):
        raise BotError(f"{name} contains whitespace: copy the value again without spaces or line breaks")
    prefix = TOKEN_PREFIX.get(name)
    if prefix and not value.startswith(prefix):
        got = value.split("-", 1)[0] + "-" if "-" in value else value[:4] + "..."
        raise BotError(f"{name} is malformed: it must start with {prefix!r} (got {got!r}); "
                       f"{'the Bot User OAuth Token' if prefix == 'xoxb-' else 'an app-level token with connections:write'}"
                       " from the app's settings page")
    return value


def tokens_for(mode: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The credentials a mode needs: socket = bot + app token; http = bot token + signing secret."""
    if mode == "socket":
        return {"bot": token("SLACK_BOT_TOKEN", env), "app": token("SLACK_APP_TOKEN", env)}
    if mode == "http":
        return {"bot": token("SLACK_BOT_TOKEN", env), "signing_secret": token("SLACK_SIGNING_SECRET", env)}
    raise BotError(f"unknown bot mode {mode!r}: use --socket or --http")
