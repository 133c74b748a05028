"""Polling for a condition in tests that drive servers, schedulers and subprocesses."""

from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """The first truthy value ``predicate()`` returns within ``timeout`` seconds; else AssertionError."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
