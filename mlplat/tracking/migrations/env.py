"""Alembic environment for mlplat's store.

Driven programmatically by ``mlplat.tracking.store`` (connection passed in attributes).
The version table is ``mlplat_alembic_version`` because Optuna's study storage lives in the
same database and keeps its own ``alembic_version``.
"""

from alembic import context

from mlplat.tracking.revisions import VERSION_TABLE
from mlplat.tracking.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` command line: use sqlalchemy.url from the ini
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
