"""Alembic's entry point: migrations run on the connection `vigia.storage.migrate` hands over."""

from __future__ import annotations

from alembic import context

from vigia.storage.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table by copying it; batch mode does that for every ALTER.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
