"""Registry tables, on the store's shared ``metadata`` (created by migration 0002_registry).

Every state change is a compare-and-set on a row the change reads (a request's ``status``,
an alias's ``version``), so two processes racing on the same object get exactly one
winner on SQLite (serialised writers) and PostgreSQL (row locks, READ COMMITTED) alike.
JSON columns are Text so both databases store them the same way.
"""

from __future__ import annotations

import sqlalchemy as sa

from mlplat.tracking.schema import ID, metadata

NAME = sa.String(200)

registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", NAME, primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("latest_version", sa.Integer, nullable=False, server_default="0"),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", NAME, sa.ForeignKey("registered_models.name"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("run_id", ID, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("tags", sa.Text, nullable=False),  # JSON object
    sa.Column("task", sa.String(20)),
    sa.Column("primary_metric", sa.String(50)),
    sa.Column("metrics", sa.Text, nullable=False),  # JSON {"cv": {...}, "holdout": {...}}
    sa.Column("signature", sa.Text, nullable=False),  # JSON, from the run's signature.json
    sa.Column("dataset", sa.String(200)),
    sa.Column("dataset_fingerprint", sa.String(64)),
    sa.Column("config_hash", sa.String(64)),
    sa.Column("code_version", sa.String(64)),
    sa.Column("seed", sa.Integer),
    sa.Column("test_size", sa.Float),
    sa.Column("model_path", sa.Text, nullable=False),
    sa.Column("model_sha256", sa.String(64), nullable=False),
    sa.Index("ix_model_versions_run", "run_id"),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", NAME, sa.ForeignKey("registered_models.name"), primary_key=True),
    sa.Column("alias", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
)

# one row per alias move; "which version served production at T" is the newest row with ts <= T
alias_history = sa.Table(
    "alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("alias", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("previous_version", sa.Integer),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),  # promote | rollback
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Column("request_id", ID),
    sa.Index("ix_alias_history_lookup", "name", "alias", "ts"),
)

approval_requests = sa.Table(
    "approval_requests",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("target", sa.String(100), nullable=False),
    # pending | approved | rejected | expired | superseded
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("requester", sa.String(200), nullable=False),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),
    sa.Column("decided_at", sa.Float),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("approvals_needed", sa.Integer, nullable=False),
    sa.Column("base_version", sa.Integer),  # the target's version when requested: evidence was computed against it
    sa.Column("evidence", sa.Text, nullable=False),  # JSON: gate results, metrics vs champion
    sa.Column("reason", sa.Text),
    sa.Index("ix_approval_requests_status", "status", "created_at"),
    sa.Index("ix_approval_requests_target", "name", "target", "status"),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("request_id", ID, sa.ForeignKey("approval_requests.id"), primary_key=True),
    sa.Column("approver", sa.String(200), primary_key=True),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("comment", sa.Text),
)
