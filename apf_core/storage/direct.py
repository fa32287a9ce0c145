"""An INSERT compiled by SQLAlchemy once, for a driver to run without SQLAlchemy's execution.

SQLAlchemy's asyncio execution of one statement (an execution context, a result, a greenlet
switch for each driver call) cost the event loop about three times what SQLite's own insert
and commit cost. :meth:`~apf_core.storage.db.Database.insert_final` hands the hottest
statement, the outbox's one-event insert, straight to the SQLite driver instead. The SQL and
the conversion of each value still come from SQLAlchemy: the statement's compiled form for the
dialect and the columns' own bind processors (JSON, UTC datetimes), so the row stored is the
one SQLAlchemy would have stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.dml import Insert


@dataclass(frozen=True, slots=True)
class DirectInsert:
    """``sql`` with positional parameters, and how to make them from a row's values."""

    sql: str
    table: str
    #: each positional parameter's column key, and its bind processor (None: as is)
    fields: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    @classmethod
    def compile(cls, statement: Insert, keys: tuple[str, ...], dialect: Dialect) -> DirectInsert:
        """``statement`` inserting one row of the columns ``keys``, for ``dialect`` (a
        positional paramstyle, as SQLite's)."""
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        names = tuple(compiled.positiontup or ())
        if not dialect.positional or set(names) != set(keys):
            raise ValueError(f"cannot run {statement} directly with the values of {keys}")
        fields = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        )
        return cls(str(compiled), statement.table.name, fields)  # type: ignore[attr-defined]

    def parameters(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for ``row`` (once per event: a plain list comprehension)."""
        return tuple([row[name] if p is None else p(row[name]) for name, p in self.fields])
