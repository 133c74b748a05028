"""Where alerts and reports go: a small ``Notifier`` protocol the front doors provide.

The engine and its services never import Slack: monitoring, the scheduler and the
registry hand an event (a plain dict) to whatever notifier the running front door set up:
the console for the CLI, a JSON-lines file always, the Slack bot's own notifier when the
bot runs. Event shape::
    {"kind": "drift" | "performance" | "latency" | "job_failed" | "report" | "approval",
     "title": str, "text": str, "status": str, "model": str | None, "version": int | None,
     "details": dict, "attachments": [path, ...], "dedup_key": str | None}
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol


class Notifier(Protocol):
    def notify(self, event: dict[str, Any]) -> None: ...


class NullNotifier:
    def notify(self, event: dict[str, Any]) -> None:
        return None


class ConsoleNotifier:
    """One line per event on stderr (the CLI's notifier)."""
    def notify(self, event: dict[str, Any]) -> None:
        where = f" [{event['model']}:{event.get('version')}]" if event.get("model") else ""
        print(f"{event.get('kind', 'event')}{where} {event.get('status', '')}: {event.get('title', '')}",
              file=sys.stderr)


class LogFileNotifier:
    """Appends events as JSON lines (always on, so alerts survive without Slack)."""
    def __init__(self, path: str | Path = "runs/alerts.jsonl"):
        self.path = Path(path)
        self._lock = threading.Lock()

    def notify(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"ts": time.time(), **event}, default=str)
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class FanOut:
    """Deliver to several notifiers; one failing never stops the others."""
    def __init__(self, *notifiers: Notifier):
        self.notifiers = list(notifiers)

    def notify(self, event: dict[str, Any]) -> None:
        for n in self.notifiers:
            try:
                n.notify(event)
            except Exception:  # a broken channel must not lose the event for the others
                logging.getLogger("mlplat.notify").exception("notifier %s failed", type(n).__name__)


_current: Notifier | None = None


def set_notifier(notifier: Notifier | None) -> None:
    """Front doors call this once (the bot installs its Slack notifier)."""
    global _current
    _current = notifier


def get_notifier() -> Notifier:
    """The installed notifier, else console + the JSON-lines log."""
    return _current or FanOut(ConsoleNotifier(), LogFileNotifier())
