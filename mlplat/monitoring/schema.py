"""Monitoring tables, on the store's shared ``metadata`` (created by migration 0006_monitoring).

``monitor_checks`` keeps one row per drift, performance or latency check (what was
checked, over which window, the verdict overall and per feature, where the reports are)
so ``mlplat monitor history`` and the governance report read the past without re-running
anything. ``monitor_alerts`` is the alert ledger: one row per alert key (model, kind,
feature, status) each time it was sent or suppressed, so the cool-down holds across
processes (the scheduler, the bot and a CLI user may all check the same model).
"""

from __future__ import annotations

import sqlalchemy as sa

from mlplat.tracking.schema import metadata

monitor_checks = sa.Table(
    "monitor_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # drift | performance | latency
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("window_start", sa.Float),  # prediction-log window; null for a file
    sa.Column("window_end", sa.Float),
    sa.Column("input", sa.Text),  # the --current / --labels file, or "prediction log"
    sa.Column("n_rows", sa.Integer),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("features", sa.Text, nullable=False),  # JSON {feature or metric: status}
    sa.Column("summary", sa.Text, nullable=False),  # JSON: the check's headline numbers
    sa.Column("report_json", sa.Text),
    sa.Column("report_html", sa.Text),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Index("ix_monitor_checks_model_created", "model", "created_at"),
)

monitor_alerts = sa.Table(
    "monitor_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # drift | performance | latency | retrain
    sa.Column("feature", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("dedup_key", sa.String(400), nullable=False),
    sa.Column("check_id", sa.Integer),
    sa.Column("sent", sa.Boolean, nullable=False),  # False: suppressed by the cool-down
    sa.Index("ix_monitor_alerts_key_created", "dedup_key", "created_at"),
)
