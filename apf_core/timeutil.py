"""UTC time and id helpers shared by every layer."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """Opaque row id (UUID4 string)."""
    return str(uuid.uuid4())


def iso(value: datetime | date | None) -> str | None:
    """ISO-8601 with a ``Z`` suffix for UTC datetimes."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def parse_iso(text: str) -> datetime:
    """Parse ISO-8601 (date or date-time); naive values are taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 lies past year 9999 in UTC
        raise ValueError(f"date out of range: {text}") from None
