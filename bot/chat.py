"""`mlplat chat`: the bot's command handling in a terminal, for trying commands without Slack.

Each line is what follows `/mlplat` in Slack (a leading `/mlplat` is accepted too);
`:click ACTION_ID VALUE` presses a button (e.g. `:click approval_approve 3f2a...`).
Answers print in order: a line's background work finishes before the next line is read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from mlplat_bot.commands import Bot, Invocation
from mlplat_bot.identity import GroupCache, Identity
from mlplat_bot.replies import TerminalReply
from mlplat_bot.settings import BotSettings
from mlplat_bot.worker import Pool

CHANNEL = "terminal"


class ChatSession:
    def __init__(self, settings: BotSettings, user: str, *, out: TextIO = sys.stdout, store=None,
                 files_dir: str = "runs/chat"):
        self.user = user
        self.pool = Pool(settings.workers)
        self.bot = Bot(settings, Identity(settings, GroupCache(None, settings.group_cache_s)), self.pool, store=store)
        self.reply = TerminalReply(out, files_dir)

    def line(self, text: str, timeout: float = 3600) -> None:
        text = text.strip()
        if not text or text.startswith("#"):
            return
        text = text.removeprefix("/mlplat").strip()
        inv = Invocation(self.user, CHANNEL, text, self.reply)
        if text.startswith(":click"):
            parts = text.split(maxsplit=2)
            if len(parts) != 3:
                self.reply.whisper("usage: :click ACTION_ID VALUE")
                return
            self.pool.submit(self.bot.handle_action, parts[1], parts[2], inv, None)
        else:
            self.pool.submit(self.bot.handle_command, inv)
        self.pool.wait_idle(timeout)

    def run(self, lines: Iterable[str], *, prompt: bool) -> None:
        if prompt:
            print(f"mlplat chat as {self.user}: `help` lists the commands, Ctrl-D ends", flush=True)
        for text in lines:
            self.line(text)
        self.pool.shutdown()


def interactive_lines() -> Iterable[str]:
    while True:
        try:
            yield input("/mlplat ")
        except EOFError:
            print()
            return
