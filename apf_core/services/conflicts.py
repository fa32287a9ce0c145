"""Turn unique-constraint races into the documented 409 codes.

The services check for duplicates first; when two requests race past that
check, the database's unique constraint decides and this maps it to the same code.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..errors import Conflict

#: (text found in the driver's message, public code, message)
_CODES = (
    ("skus", "DUPLICATE_SKU", "SKU code already exists"),
    ("products", "DUPLICATE_NAME", "A product with this name already exists"),
    ("colors", "DUPLICATE_COLOR", "Color preset already exists"),
    ("finished_goods", "DUPLICATE_INVENTORY", "This SKU already has an inventory item"),
    ("orders", "DUPLICATE_ORDER_NUMBER", "Order number already exists"),
)


def as_conflict(err: IntegrityError) -> Conflict | None:
    text = str(err.orig if err.orig is not None else err)
    if "unique" not in text.lower() and "duplicate" not in text.lower():
        return None
    for needle, code, message in _CODES:
        if f"{needle}." in text or f"uq_{needle}_" in text:
            return Conflict(message, code=code)
    return None


def unique_conflicts[**P, R](func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except IntegrityError as err:
            conflict = as_conflict(err)
            if conflict is None:
                raise
            raise conflict from None

    return wrapper


__all__ = ["as_conflict", "unique_conflicts"]


def field_error(field: str, message: str) -> dict[str, Any]:
    """The ``details`` of a 400 VALIDATION_ERROR raised by a service (as the route layer
    names fields)."""
    return {"details": [{"field": field, "message": message}]}
