"""One command or click in flight: who, where, and how to answer there (a Reply per transport)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mlplat.errors import MlplatError


class Reply(Protocol):
    """Where a command's answers go. ``say`` returns the message ts (None where there is none)."""

    def say(self, text: str, blocks: list[dict] | None = None, *, thread_ts: str | None = None,
            channel: str | None = None) -> str | None: ...

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None: ...

    def upload(self, content: bytes, filename: str, title: str, *, thread_ts: str | None = None,
               channel: str | None = None) -> None: ...

    def whisper(self, text: str) -> None: ...


@dataclass
class Invocation:
    user: str
    channel: str
    text: str
    reply: Reply
    key: str | None = None  # Slack's id for this delivery (exactly-once); None: no dedup (terminal)


class NotAvailable(MlplatError):
    """An operation this command needs is not in this version of mlplat yet."""
