"""Governance tables, on the store's shared ``metadata`` (created by migration 0005_governance).

``governance_reports`` keeps one row per generated report with its machine-readable
summary (production versions, violations, counts), so the next report can say what
changed since this one without re-deriving the past from the audit trail.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlplat.tracking.schema import metadata

governance_reports = sa.Table(
    "governance_reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("since", sa.Float, nullable=False),
    sa.Column("until", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Column("format", sa.String(10), nullable=False),
    sa.Column("path", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),  # ok | warn | error
    sa.Column("summary", sa.Text, nullable=False),  # JSON, see mlplat.governance.report.summarise
    sa.Index("ix_governance_reports_created", "created_at"),
)
