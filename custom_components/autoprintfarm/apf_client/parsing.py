"""Tolerant parsing helpers: missing or mistyped optional fields become ``None``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .exceptions import APFResponseError

type JSONObject = Mapping[str, Any]


def req_str(data: JSONObject, key: str, kind: str) -> str:
    value = data.get(key)
    if value is None or isinstance(value, (dict, list)):
        raise APFResponseError(f"{kind} without {key!r}")
    return str(value)


def opt_str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def opt_int(value: Any) -> int | None:
    number = opt_float(value)
    return None if number is None else int(number)


def opt_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def parse_time(value: Any) -> datetime | None:
    """Parse an ISO-8601 timestamp (``Z`` allowed); ``None`` if absent or invalid."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
