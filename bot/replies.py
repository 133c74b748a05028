"""The two places a command answers: a Slack channel (through the Outbox) and a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from mlplat_bot import render
from mlplat_bot.outbox import Outbox


class SlackReply:
    """Answers in the channel the command came from; ``whisper`` is an ephemeral message to the user."""

    def __init__(self, outbox: Outbox, channel: str, user: str):
        self.outbox, self.channel, self.user = outbox, channel, user

    def say(self, text: str, blocks: list[dict] | None = None, *, thread_ts: str | None = None,
            channel: str | None = None) -> str | None:
        return self.outbox.post(channel or self.channel, text, blocks, thread_ts).get("ts")

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        self.outbox.update(channel, ts, text, blocks)

    def upload(self, content: bytes, filename: str, title: str, *, thread_ts: str | None = None,
               channel: str | None = None) -> None:
        self.outbox.upload(channel or self.channel, content, filename, title, thread_ts)

    def whisper(self, text: str) -> None:
        self.outbox.ephemeral(self.channel, self.user, text)


class TerminalReply:
    """`mlplat chat`: messages printed, thread replies indented, files written under ``files_dir``."""

    def __init__(self, out: TextIO = sys.stdout, files_dir: str | Path = "runs/chat"):
        self.out, self.files_dir = out, Path(files_dir)
        self._n = 0

    def _next_ts(self) -> str:
        self._n += 1
        return f"{self._n}.000"

    def say(self, text: str, blocks: list[dict] | None = None, *, thread_ts: str | None = None,
            channel: str | None = None) -> str | None:
        body = render.as_text(text, blocks)
        if thread_ts:
            body = "\n".join("    " + line for line in body.splitlines())
        print(body, file=self.out, flush=True)
        return self._next_ts()

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        print(f"[updated message {ts}] {text}", file=self.out, flush=True)

    def upload(self, content: bytes, filename: str, title: str, *, thread_ts: str | None = None,
               channel: str | None = None) -> None:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path = self.files_dir / filename
        path.write_bytes(content)
        print(f"[file] {title}: {path}", file=self.out, flush=True)

    def whisper(self, text: str) -> None:
        print(text, file=self.out, flush=True)
