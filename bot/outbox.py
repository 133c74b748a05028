"""Everything the bot sends to Slack's Web API, paced per channel, with 429 honoured.

Slack allows about one chat.postMessage per second per channel and answers 429 with a
Retry-After header beyond that. Calls to one channel go out in arrival order (a ticket
queue per channel) no closer than ``interval_s`` apart; a 429 pauses that channel for
Retry-After seconds and the same call is retried, up to ``max_retries`` times. Calls are
made from background workers, never from an acknowledgement path, so waiting is fine.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from mlplat.errors import BotError

log = logging.getLogger("mlplat.bot")


class _Lane:
    """One channel's FIFO: tickets are served in the order they were taken."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.next_ticket = 0
        self.serving = 0
        self.not_before = 0.0


class Outbox:
    def __init__(self, client, *, interval_s: float = 1.0, max_retries: int = 5,
                 sleep: Callable[[float], None] = time.sleep):
        self.client = client
        self.interval_s, self.max_retries, self._sleep = interval_s, max_retries, sleep
        self._lanes: dict[str, _Lane] = {}
        self._lock = threading.Lock()
        self.rate_limited = 0  # 429s met (for tests and logs)

    def _lane(self, channel: str) -> _Lane:
        with self._lock:
            return self._lanes.setdefault(channel, _Lane())

    def call(self, lane_key: str, method: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Run ``method(**kwargs)`` in the turn of ``lane_key`` (a channel); retried after 429s."""
        lane = self._lane(lane_key)
        with lane.cond:
            ticket = lane.next_ticket
            lane.next_ticket += 1
            while lane.serving != ticket:
                lane.cond.wait()
        try:
            return self._paced(lane, method, kwargs)
        finally:
            with lane.cond:
                lane.serving += 1
                lane.cond.notify_all()

    def _paced(self, lane: _Lane, method: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        for attempt in range(self.max_retries + 1):
            wait = lane.not_before - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            try:
                result = method(**kwargs)
                lane.not_before = time.monotonic() + self.interval_s
                return result
            except SlackApiError as exc:
                status = getattr(exc.response, "status_code", None)
                if status != 429 or attempt == self.max_retries:
                    error = exc.response.get("error") if hasattr(exc.response, "get") else exc
                    raise BotError(f"Slack refused {getattr(method, '__name__', 'the call')}: {error}") from exc
                self.rate_limited += 1
                retry_after = float((exc.response.headers or {}).get("Retry-After", 1) or 1)
                log.info("Slack rate limit: waiting %.1f s (Retry-After)", retry_after)
                lane.not_before = time.monotonic() + retry_after
        raise AssertionError("unreachable")

    # -- the calls the bot makes --------------------------------------------------------
    def post(self, channel: str, text: str, blocks: list[dict] | None = None, thread_ts: str | None = None) -> dict:
        return self.call(channel, self.client.chat_postMessage, channel=channel, text=text, blocks=blocks,
                         thread_ts=thread_ts).data

    def ephemeral(self, channel: str, user: str, text: str, blocks: list[dict] | None = None) -> dict:
        return self.call(channel, self.client.chat_postEphemeral, channel=channel, user=user, text=text,
                         blocks=blocks).data

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> dict:
        return self.call(channel, self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks).data

    def upload(self, channel: str, content: bytes, filename: str, title: str, thread_ts: str | None = None) -> Any:
        # files_upload_v2: files.getUploadURLExternal, a POST to that URL, files.completeUploadExternal
        return self.call(channel, self.client.files_upload_v2, channel=channel, content=content, filename=filename,
                         title=title, thread_ts=thread_ts)

    def publish_home(self, user: str, view: dict) -> dict:
        return self.call(f"home:{user}", self.client.views_publish, user_id=user, view=view).data
