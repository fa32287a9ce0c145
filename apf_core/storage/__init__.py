"""Storage: SQLAlchemy Core tables, Alembic migrations and the database handle."""

from .db import Database, normalise_url, sqlite_url

__all__ = ["Database", "normalise_url", "sqlite_url"]
