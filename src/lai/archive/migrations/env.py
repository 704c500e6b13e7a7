"""Alembic environment of the archive catalog: runs on the connection :func:`lai.archive.catalog.upgrade` passes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from lai.archive.catalog import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    # `alembic -x url=...` from a shell: make our own connection
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = sa.create_engine(str(url))
    with engine.begin() as own:
        context.configure(connection=own, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
