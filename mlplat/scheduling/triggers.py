"""Triggers from conf/schedule, and the fire slot a run belongs to.

Intervals are anchored at a fixed epoch (not at the moment a scheduler started) so that
every scheduler process computes the same fire times; the slot is the latest fire time
at or before now, which is what the database lock is keyed on.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from mlplat.durations import seconds
from mlplat.errors import ConfigError

EPOCH = dt.datetime(2020, 1, 1)


def parse_every(text: str, where: str) -> dt.timedelta:
    value = seconds(text) if str(text).strip()[:-1].isdigit() else None  # whole numbers only
    if value is None:
        raise ConfigError(f"{where}: malformed duration {text!r}; use e.g. 90s, 30m, 6h, 7d, 2w")
    delta = dt.timedelta(seconds=value)
    if delta.total_seconds() < 1:
        raise ConfigError(f"{where}: interval {text!r} must be at least 1s")
    return delta


def build_trigger(spec: Any, timezone: str, where: str):
    """An APScheduler trigger for {cron: "..."} or {every: "6h"}; one clear error otherwise."""
    spec = dict(spec or {})
    if set(spec) == {"cron"}:
        try:
            return CronTrigger.from_crontab(str(spec["cron"]), timezone=timezone)
        except ValueError as exc:
            raise ConfigError(f"{where}: invalid cron expression {spec['cron']!r} ({exc}); "
                              "use 5 fields: minute hour day month day-of-week, e.g. '0 8 * * mon'") from exc
    if set(spec) == {"every"}:
        delta = parse_every(spec["every"], where)
        tz = zoneinfo.ZoneInfo(timezone)
        return IntervalTrigger(seconds=int(delta.total_seconds()), start_date=EPOCH.replace(tzinfo=tz), timezone=tz)
    raise ConfigError(f"{where}: trigger must be {{cron: '<crontab>'}} or {{every: '<duration>'}}, got {spec}")


def current_slot(trigger, now: dt.datetime) -> str:
    """The latest fire time at or before ``now`` (ISO string), identical across processes."""
    if isinstance(trigger, IntervalTrigger):
        step = trigger.interval.total_seconds()
        start = trigger.start_date
        fire = start + dt.timedelta(seconds=step * ((now - start).total_seconds() // step))
        return fire.astimezone(dt.UTC).isoformat(timespec="seconds")
    # cron: walk the fire times of the last 8 days (covers weekly schedules)
    start = now - dt.timedelta(days=8)
    previous = None
    fire = trigger.get_next_fire_time(None, start)
    guard = 0
    while fire is not None and fire <= now + dt.timedelta(seconds=1) and guard < 100000:
        previous = fire
        fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))
        guard += 1
    return (previous or now).astimezone(dt.UTC).isoformat(timespec="seconds")
