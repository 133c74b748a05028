"""``SlackNotifier``: mlplat's Notifier protocol delivered as Slack alert messages.

``notify`` is called by monitoring and the scheduler on their own threads; it only queues
the event on the bot's pool and returns, so a slow or rate-limited Slack never stalls a
check. Delivery is once per dedup key within the cool-down (monitoring dedups too; this
key also survives bot restarts and replicas, being in the store), paced by the per-channel
outbox, with Acknowledge and Retrain buttons (bot/commands.py handles their clicks).
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from mlplat_bot.commands import Bot
from mlplat_bot.outbox import Outbox
from mlplat_bot.replies import SlackReply


class SlackNotifier:
    def __init__(self, bot: Bot, outbox: Outbox):
        self.bot, self.outbox = bot, outbox

    def notify(self, event: dict[str, Any]) -> None:
        self.submit(event)

    def submit(self, event: dict[str, Any]) -> Future:
        channel = self.bot.settings.channels.get("alerts") or ""
        return self.bot.pool.submit(self.bot.deliver_alert, dict(event), SlackReply(self.outbox, channel, ""))
