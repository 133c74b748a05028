"""web UI: params and tags filterable and sortable by index (numeric copy of each param value)

Revision ID: 0010_ui_indexes
Revises: 0008_linear
Create Date: 2026-12-01

The web UI sorts and filters runs by any param or tag. Params are stored as JSON text, so
text order would put "10.0" before "2"; ``run_params.value_num`` holds the value as a number
when it is one (null otherwise, and for booleans), and the (key, value_num, value, run_id)
index gives a param-sorted page in index order, stopping after one page. Tags are plain
text: (key, value, run_id) answers both "tag.team=fraud" and a tag-sorted page. Existing
rows are backfilled in SQL on each database.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_ui_indexes"
down_revision = "0008_linear"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_run_params_key_num": ("run_params", ["key", "value_num", "value", "run_id"]),
    "ix_run_tags_key_value": ("run_tags", ["key", "value", "run_id"]),
}
# a JSON number written by json.dumps: what Python's float() reads back
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"


def upgrade() -> None:
    with op.batch_alter_table("run_params") as batch:
        batch.add_column(sa.Column("value_num", sa.Float(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"UPDATE run_params SET value_num = CAST(value AS DOUBLE PRECISION) WHERE value ~ '{_NUMBER}'")
    else:
        op.execute("UPDATE run_params SET value_num = CAST(value AS REAL) "
                   "WHERE json_valid(value) AND json_type(value) IN ('integer', 'real')")
    for name, (table, cols) in INDEXES.items():
        op.create_index(name, table, cols, unique=False)


def downgrade() -> None:
    for name, (table, _cols) in INDEXES.items():
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("run_params") as batch:
        batch.drop_column("value_num")
