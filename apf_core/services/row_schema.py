"""Response schemas generated from the table columns a view is projected from.

A view built with :func:`~apf_core.services.common.project` from a field list gets its
schema from the same list and the same table: the column type gives the JSON type and the
column's nullability whether ``null`` may be sent, so a field added to the list is
documented (and checked) at once. JSON columns and derived values have no type to read and
must be given explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import voluptuous as vol
from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Integer, Numeric, String, Table
from sqlalchemy.types import TypeDecorator

from ..timeutil import parse_iso

#: a JSON number: a float column can hold whole numbers, which are sent as integers
NUMBER = vol.Any(float, int)


class Timestamp(vol.Datetime):
    """An ISO-8601 string as :func:`apf_core.timeutil.iso` writes it (OpenAPI: date-time)."""

    MESSAGE = "expected an ISO-8601 timestamp"

    def __init__(self) -> None:
        super().__init__(msg=self.MESSAGE)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise vol.DatetimeInvalid(self.MESSAGE)
        try:
            parse_iso(value)
        except ValueError:
            raise vol.DatetimeInvalid(self.MESSAGE) from None
        return value


class IsoDate(vol.Date):
    """A ``YYYY-MM-DD`` string (OpenAPI: date)."""

    def __init__(self) -> None:
        super().__init__(msg="expected a YYYY-MM-DD date")


TIMESTAMP = Timestamp()
DATE = IsoDate()


def nullable(validator: Any) -> vol.Any:
    return vol.Any(None, validator)


def any_json(value: Any) -> Any:
    """Any JSON value (documented as an unconstrained schema)."""
    return value


def column_schema(column: Column[Any]) -> Any:
    """The validator for what :func:`project` makes of ``column``'s values."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    validator: Any
    if isinstance(kind, Boolean):
        validator = bool
    elif isinstance(kind, Integer):
        validator = int
    elif isinstance(kind, Float | Numeric):
        validator = NUMBER
    elif isinstance(kind, DateTime):
        validator = TIMESTAMP
    elif isinstance(kind, Date):
        validator = DATE
    elif isinstance(kind, String) and not isinstance(kind, JSON):
        validator = str
    else:
        raise TypeError(f"{column.table.name}.{column.name}: give its response schema explicitly")
    return nullable(validator) if column.nullable else validator


def row_schema(
    table: Table, fields: Iterable[str], overrides: Mapping[str, Any] | None = None
) -> dict[Any, Any]:
    """``{Required(field): validator}`` for ``fields`` of ``table``; ``overrides`` name the
    validators of JSON columns, derived values and fields not in the table (a column there:
    the field is that column under another name)."""
    overrides = overrides or {}
    schema: dict[Any, Any] = {}
    for name in fields:
        found = overrides.get(name, table.c.get(name))
        if found is None:
            raise TypeError(f"{table.name}.{name}: no such column; give its response schema")
        schema[vol.Required(name)] = column_schema(found) if isinstance(found, Column) else found
    return schema
