"""initial schema: experiments, sweeps, runs, metrics, params, tags, artifacts, audit log

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("object_type", sa.String(length=50), nullable=False),
        sa.Column("object_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_digest", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_object", "audit_log", ["object_type", "object_id"], unique=False)
    op.create_table(
        "experiments",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("experiment", sa.String(length=200), nullable=False),
        sa.Column("sweep_id", sa.String(length=32), nullable=True),
        sa.Column("job_num", sa.Integer(), nullable=True),
        sa.Column("invocation_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=50), nullable=True),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("heartbeat_at", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("fit_time_s", sa.Float(), nullable=True),
        sa.Column("dataset", sa.String(length=200), nullable=True),
        sa.Column("dataset_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("features", sa.String(length=200), nullable=True),
        sa.Column("task", sa.String(length=20), nullable=True),
        sa.Column("primary_metric", sa.String(length=50), nullable=True),
        sa.Column("primary_value", sa.Float(), nullable=True),
        sa.Column("validation_passed", sa.Boolean(), nullable=True),
        sa.Column("config", sa.Text(), nullable=True),
        sa.Column("overrides", sa.Text(), nullable=True),
        sa.Column("config_hash", sa.String(length=64), nullable=True),
        sa.Column("code_version", sa.String(length=64), nullable=True),
        sa.Column("code_dirty", sa.Boolean(), nullable=True),
        sa.Column("package_versions", sa.Text(), nullable=True),
        sa.Column("artifact_dir", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_runs_dataset", "runs", ["dataset"], unique=False)
    op.create_index("ix_runs_experiment_started", "runs", ["experiment", "started_at"], unique=False)
    op.create_index("ix_runs_invocation", "runs", ["invocation_id"], unique=False)
    op.create_index("ix_runs_model", "runs", ["model"], unique=False)
    op.create_index("ix_runs_started", "runs", ["started_at"], unique=False)
    op.create_index("ix_runs_status_started", "runs", ["status", "started_at"], unique=False)
    op.create_index("ix_runs_sweep", "runs", ["sweep_id", "job_num"], unique=False)
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("experiment", sa.String(length=200), nullable=True),
        sa.Column("command", sa.Text(), nullable=True),
        sa.Column("sweeper", sa.String(length=200), nullable=True),
        sa.Column("launcher", sa.String(length=200), nullable=True),
        sa.Column("search_space", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("n_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_running", sa.Integer(), server_default="0", nullable=False),
        sa.Column("n_crashed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("best_run_id", sa.String(length=32), nullable=True),
        sa.Column("optuna_study", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sweeps_started", "sweeps", ["started_at"], unique=False)
    op.create_table(
        "artifacts",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("pruned_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "name"),
    )
    op.create_table(
        "run_fold_metrics",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("fold", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "name", "fold"),
    )
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("std", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "name", "stage"),
    )
    op.create_index("ix_run_metrics_rank", "run_metrics", ["name", "stage", "value"], unique=False)
    op.create_table(
        "run_params",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("run_tags")
    op.drop_table("run_params")
    op.drop_index("ix_run_metrics_rank", table_name="run_metrics")
    op.drop_table("run_metrics")
    op.drop_table("run_fold_metrics")
    op.drop_table("artifacts")
    op.drop_index("ix_sweeps_started", table_name="sweeps")
    op.drop_table("sweeps")
    op.drop_index("ix_runs_sweep", table_name="runs")
    op.drop_index("ix_runs_status_started", table_name="runs")
    op.drop_index("ix_runs_started", table_name="runs")
    op.drop_index("ix_runs_model", table_name="runs")
    op.drop_index("ix_runs_invocation", table_name="runs")
    op.drop_index("ix_runs_experiment_started", table_name="runs")
    op.drop_index("ix_runs_dataset", table_name="runs")
    op.drop_table("runs")
    op.drop_table("experiments")
    op.drop_index("ix_audit_object", table_name="audit_log")
    op.drop_table("audit_log")
