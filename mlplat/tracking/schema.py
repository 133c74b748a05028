"""Tables of the run store (SQLAlchemy Core).

Designed for the queries users make (migration 0002_store_scale):

- the leaderboard ranks one metric's aggregate. ``run_metrics`` carries copies of its run's
  filter columns (experiment, sweep, dataset, model, status, started_at), so a filtered
  top-k is one index range scan in value order that stops after k rows: no join with
  ``runs`` per candidate and no sort of every matching run. The copies are written with the
  metrics and kept in step by every status change in ``mlplat.tracking.runs``.
- listings page over (filter, started_at, id) indexes, so "newest first" with the id as
  tie-break is read in index order, never sorted.
- a sweep's trials come from (sweep_id, job_num); lineage lookups ("which runs used this
  data / this config") from dataset_fingerprint and config_hash indexes.

Times are epoch seconds (float) so SQLite and PostgreSQL compare and index them the same way.
Other domains (registry, monitoring, ...) add their tables to the same ``metadata`` in
their own modules and their own Alembic revisions.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

ID = sa.String(32)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

sweeps = sa.Table(
    "sweeps",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("experiment", sa.String(200)),
    sa.Column("command", sa.Text),
    sa.Column("sweeper", sa.String(200)),
    sa.Column("launcher", sa.String(200)),
    sa.Column("search_space", sa.Text),
    sa.Column("actor", sa.String(200)),
    sa.Column("source", sa.String(50)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("n_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_running", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_crashed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("best_run_id", ID),
    sa.Column("optuna_study", sa.String(200)),
    # the driver process (`mlplat train -m`): a killed driver's sweep is closed as crashed
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("heartbeat_at", sa.Float),
    sa.Index("ix_sweeps_started", "started_at"),
)

# (name, columns) of the runs indexes; 0002_store_scale creates the ones 0001 lacked
RUN_INDEX_COLUMNS: dict[str, tuple[str, ...]] = {
    "ix_runs_started_id": ("started_at", "id"),
    "ix_runs_status_started_id": ("status", "started_at", "id"),
    "ix_runs_experiment_started_id": ("experiment", "started_at", "id"),
    "ix_runs_dataset_started_id": ("dataset", "started_at", "id"),
    "ix_runs_model_started_id": ("model", "started_at", "id"),
    "ix_runs_sweep": ("sweep_id", "job_num"),
    "ix_runs_invocation": ("invocation_id",),
    "ix_runs_fingerprint": ("dataset_fingerprint",),
    "ix_runs_config_hash": ("config_hash",),
}
RUN_INDEXES = [sa.Index(name, *cols) for name, cols in RUN_INDEX_COLUMNS.items()]

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("experiment", sa.String(200), nullable=False),
    sa.Column("sweep_id", ID),
    sa.Column("job_num", sa.Integer),
    sa.Column("invocation_id", ID),
    sa.Column("status", sa.String(20), nullable=False),  # running | done | failed | crashed
    sa.Column("actor", sa.String(200)),
    sa.Column("source", sa.String(50)),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float),
    sa.Column("heartbeat_at", sa.Float),
    sa.Column("duration_s", sa.Float),
    sa.Column("fit_time_s", sa.Float),
    sa.Column("dataset", sa.String(200)),
    sa.Column("dataset_fingerprint", sa.String(64)),
    sa.Column("model", sa.String(200)),
    sa.Column("features", sa.String(200)),
    sa.Column("task", sa.String(20)),
    sa.Column("primary_metric", sa.String(50)),
    sa.Column("primary_value", sa.Float),
    sa.Column("validation_passed", sa.Boolean),
    sa.Column("config", sa.Text),
    sa.Column("overrides", sa.Text),
    sa.Column("config_hash", sa.String(64)),
    sa.Column("code_version", sa.String(64)),
    sa.Column("code_dirty", sa.Boolean),
    sa.Column("package_versions", sa.Text),
    sa.Column("artifact_dir", sa.Text),
    sa.Column("error", sa.Text),
    *RUN_INDEXES,
)

# one ranking index per leaderboard filter with an equality test; the value comes last so
# the scan is already in rank order
METRIC_INDEX_COLUMNS: dict[str, tuple[str, ...]] = {
    "ix_run_metrics_rank": ("name", "stage", "value"),
    "ix_run_metrics_dataset_rank": ("name", "stage", "dataset", "value"),
    "ix_run_metrics_model_rank": ("name", "stage", "model", "value"),
    "ix_run_metrics_experiment_rank": ("name", "stage", "experiment", "value"),
    "ix_run_metrics_sweep_rank": ("name", "stage", "sweep_id", "value"),
}
METRIC_INDEXES = [sa.Index(name, *cols) for name, cols in METRIC_INDEX_COLUMNS.items()]
# the run columns copied into run_metrics
METRIC_RUN_COLUMNS = ("experiment", "sweep_id", "dataset", "model", "status", "started_at")

run_metrics = sa.Table(
    "run_metrics",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("stage", sa.String(10), primary_key=True),  # cv (mean over folds) | holdout
    sa.Column("value", sa.Float),
    sa.Column("std", sa.Float),
    # copies of the run's filter columns (see the module docstring)
    sa.Column("experiment", sa.String(200)),
    sa.Column("sweep_id", ID),
    sa.Column("dataset", sa.String(200)),
    sa.Column("model", sa.String(200)),
    sa.Column("status", sa.String(20)),
    sa.Column("started_at", sa.Float),
    *METRIC_INDEXES,
)

run_fold_metrics = sa.Table(
    "run_fold_metrics",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(50), primary_key=True),
    sa.Column("fold", sa.Integer, primary_key=True),
    sa.Column("value", sa.Float),
)

run_params = sa.Table(
    "run_params",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text),  # JSON
    # the value as a number when it is one (migration 0010_ui_indexes): param-sorted pages
    sa.Column("value_num", sa.Float),
    sa.Index("ix_run_params_key_num", "key", "value_num", "value", "run_id"),
)

run_tags = sa.Table(
    "run_tags",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text),
    sa.Index("ix_run_tags_key_value", "key", "value", "run_id"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_id", ID, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("pruned_at", sa.Float),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("object_type", sa.String(50), nullable=False),
    sa.Column("object_id", sa.String(200), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("payload_digest", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # HMAC-SHA256 of ``hash`` with the audit key, which is not in the database (tracking/anchor.py);
    # null only for entries written before migration 0011_audit_anchor
    sa.Column("mac", sa.String(64)),
    sa.Index("ix_audit_object", "object_type", "object_id"),
)

# signed heads of the trail (``mlplat audit checkpoint``, the scheduler's audit_checkpoint job):
# each names the newest entry at its time and is itself chained by MAC, so deleting entries from
# the end of the trail, or recomputing the chain, no longer matches a checkpoint
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("seq", sa.Integer, nullable=False),  # the newest entry's seq (0: an empty trail)
    sa.Column("hash", sa.String(64), nullable=False),  # that entry's hash
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source", sa.String(50), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),  # which key signed it (a digest, not the key)
    sa.Column("prev_mac", sa.String(64), nullable=False),
    sa.Column("mac", sa.String(64), nullable=False),
)
