"""store at scale: leaderboard filter columns on run_metrics, (filter, started_at, id) run indexes

Revision ID: 0002_store_scale
Revises: 0001_initial
Create Date: 2026-11-26

The leaderboard's filters are copied into run_metrics so one index range scan in value
order answers a filtered top-k; listings get (filter, started_at, id) indexes so "newest
first, id as tie-break" is read in index order. Existing rows are backfilled from runs.
Column and index lists are spelled out here (not imported from schema.py) so this
revision stays what it was when later revisions change the schema.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_store_scale"
down_revision = "0001_initial"
branch_labels = ("store_scale",)
depends_on = None

OLD_RUN_INDEXES = {
    "ix_runs_started": ["started_at"],
    "ix_runs_status_started": ["status", "started_at"],
    "ix_runs_experiment_started": ["experiment", "started_at"],
    "ix_runs_dataset": ["dataset"],
    "ix_runs_model": ["model"],
}
NEW_RUN_INDEXES = {
    "ix_runs_started_id": ["started_at", "id"],
    "ix_runs_status_started_id": ["status", "started_at", "id"],
    "ix_runs_experiment_started_id": ["experiment", "started_at", "id"],
    "ix_runs_dataset_started_id": ["dataset", "started_at", "id"],
    "ix_runs_model_started_id": ["model", "started_at", "id"],
    "ix_runs_fingerprint": ["dataset_fingerprint"],
    "ix_runs_config_hash": ["config_hash"],
}
COPIED_COLUMNS = {
    "experiment": sa.String(length=200),
    "sweep_id": sa.String(length=32),
    "dataset": sa.String(length=200),
    "model": sa.String(length=200),
    "status": sa.String(length=20),
    "started_at": sa.Float(),
}
METRIC_INDEXES = {
    "ix_run_metrics_dataset_rank": ["name", "stage", "dataset", "value"],
    "ix_run_metrics_model_rank": ["name", "stage", "model", "value"],
    "ix_run_metrics_experiment_rank": ["name", "stage", "experiment", "value"],
    "ix_run_metrics_sweep_rank": ["name", "stage", "sweep_id", "value"],
}


def upgrade() -> None:
    for name in OLD_RUN_INDEXES:
        op.drop_index(name, table_name="runs")
    for name, cols in NEW_RUN_INDEXES.items():
        op.create_index(name, "runs", cols, unique=False)
    for name, type_ in COPIED_COLUMNS.items():
        op.add_column("run_metrics", sa.Column(name, type_, nullable=True))
    # backfill before indexing: building an index once is cheaper than updating it per row
    assignments = ", ".join(f"{n} = (SELECT r.{n} FROM runs r WHERE r.id = run_metrics.run_id)"
                            for n in COPIED_COLUMNS)
    op.execute(f"UPDATE run_metrics SET {assignments}")
    for name, cols in METRIC_INDEXES.items():
        op.create_index(name, "run_metrics", cols, unique=False)


def downgrade() -> None:
    for name in METRIC_INDEXES:
        op.drop_index(name, table_name="run_metrics")
    with op.batch_alter_table("run_metrics") as batch:
        for name in reversed(COPIED_COLUMNS):
            batch.drop_column(name)
    for name in NEW_RUN_INDEXES:
        op.drop_index(name, table_name="runs")
    for name, cols in OLD_RUN_INDEXES.items():
        op.create_index(name, "runs", cols, unique=False)
