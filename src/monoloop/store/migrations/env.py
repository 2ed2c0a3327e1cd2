"""Alembic environment: monoloop always passes the connection in; it never reads an ini file."""

from __future__ import annotations

from alembic import context

from monoloop.store.schema import all_tables

target_metadata = all_tables()
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
