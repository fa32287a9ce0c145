"""Alembic environment: runs on the connection handed in by :mod:`apf_core.storage.db`."""

from __future__ import annotations

from alembic import context

from apf_core.storage.tables import load_all

target_metadata = load_all()

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via the alembic CLI without apf
    raise RuntimeError("run migrations through apf_core.storage.db.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
