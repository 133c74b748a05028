"""Durations written the way people write them: 90s, 30m, 24h, 7d, 2w.

One grammar for every place that takes one (CLI options, conf/schedule, conf/monitor,
conf/governance, chat); each caller words its own error, because only it knows where the
value came from and how to fix it there.
"""

from __future__ import annotations

import re
from typing import Any

PATTERN = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(text: Any, *, units: str = "smhdw") -> float | None:
    """The duration in seconds, or None when ``text`` is not ``<number><unit>`` with a unit in ``units``."""
    m = PATTERN.match(str(text).strip())
    if not m or m.group(2) not in units:
        return None
    return float(m.group(1)) * SECONDS[m.group(2)]
