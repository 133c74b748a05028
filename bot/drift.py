"""`/mlplat drift <name>`: the served model's logged inputs against its stored reference profile.

A thin call of ``mlplat.ops.check_drift`` (the operation `mlplat monitor drift` uses), so a
check from chat is stored in the history, alerts through the same dedup, and is audited.
"""

from __future__ import annotations

import time
from typing import Any

from mlplat.errors import MonitoringError


def parse_window(text: str) -> float:
    from mlplat_bot.parse import Refused

    from mlplat.durations import seconds

    value = seconds(text)
    if not value:
        raise Refused(f"malformed window {text!r}: use a number and a unit, e.g. 30m, 24h, 7d")
    return value


def check(name: str, window_s: float | None, *, actor: str, source: str, serving: dict[str, Any],
          monitor: dict[str, Any] | None) -> dict:
    """The same drift check as `mlplat monitor drift NAME --since ...` (stored, alerted, deduplicated).

    With no window, every logged prediction is the current data.
    """
    from pathlib import Path

    from mlplat import ops

    since = time.time() - window_s if window_s else 0.0
    try:
        out = ops.check_drift(name, since=since, actor=actor, source=source,
                              serving=serving or None, monitor=monitor or None)
    except MonitoringError as exc:
        if getattr(exc, "result", None) is None:
            raise
        out = exc.result  # nothing could be checked: the report still says why, per feature
    html_path = (out.get("reports") or {}).get("html")
    html = Path(html_path).read_text() if html_path and Path(html_path).is_file() else ""
    return {"version": out.get("version"), "result": out, "html": html}
