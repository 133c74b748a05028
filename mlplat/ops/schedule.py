"""Operations on the scheduler: list declared jobs, run one now, start the loop."""

from __future__ import annotations

from typing import Any


def scheduler_jobs(*, overrides: list[str] | None = None) -> list[dict[str, Any]]:
    from mlplat.scheduling.runner import list_jobs

    return list_jobs(overrides)


def run_scheduled_job(job: str, *, overrides: list[str] | None = None, notifier=None) -> dict[str, Any]:
    """Run ``job`` now, outside its schedule (recorded as a manual slot)."""
    from mlplat.scheduling.runner import execute

    return execute(job, manual=True, overrides=overrides, notifier=notifier)


def start_scheduler(*, blocking: bool = True, overrides: list[str] | None = None):
    from mlplat.scheduling.runner import start

    return start(blocking=blocking, overrides=overrides)


__all__ = ["scheduler_jobs", "run_scheduled_job", "start_scheduler"]
