"""Scheduler bookkeeping tables (on the store's shared metadata).

``schedule_runs`` has one row per job execution, unique on (job, slot): the slot is the
trigger's scheduled fire time, the same in every process because triggers are
deterministic (cron, or intervals anchored at a fixed epoch). Two scheduler processes
firing the same job at the same time race on that unique key, and exactly one runs it.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlplat.tracking.schema import metadata

schedule_runs = sa.Table(
    "schedule_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(200), nullable=False),
    sa.Column("slot", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # running | ok | failed
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("summary", sa.Text),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("job", "slot", name="uq_schedule_runs_job_slot"),
    sa.Index("ix_schedule_runs_job_started", "job", "started_at"),
)
