"""Tolerant conversions for the text values slicers write."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])", re.IGNORECASE)
_SECONDS_PER_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_LIST_SEPARATORS = re.compile(r"[,;]")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def parse_duration(text: str | None) -> int | None:
    """'1d 2h 3m 4s', '9m 22s' or a bare number of seconds -> whole seconds."""
    if text is None:
        return None
    text = text.strip()
    number = parse_float(text)
    if number is not None and _NUMBER.fullmatch(text):
        return round(number) if number >= 0 else None
    parts = _DURATION_PART.findall(text)
    if not parts:
        return None
    return round(sum(float(value) * _SECONDS_PER_UNIT[unit.lower()] for value, unit in parts))


def parse_float(text: str | None) -> float | None:
    """The first number in ``text`` ('0.4', '1.01345m', '"0.4"'), or None."""
    if text is None:
        return None
    match = _NUMBER.search(text)
    if match is None:
        return None
    value = float(match.group())
    return value if math.isfinite(value) else None


def parse_int(text: str | None) -> int | None:
    value = parse_float(text)
    return None if value is None else int(value)


def split_list(text: str | None) -> list[str]:
    """'PLA;PETG', '1.2, 3.4' -> stripped, unquoted, non-empty items."""
    if not text:
        return []
    items = (item.strip().strip('"').strip() for item in _LIST_SEPARATORS.split(text))
    return [item for item in items if item]


def sum_numbers(text: str | None) -> float | None:
    """Sum of a comma/semicolon list of numbers (multi-extruder totals)."""
    numbers = [n for n in (parse_float(item) for item in split_list(text)) if n is not None]
    return sum(numbers) if numbers else None


def first_number(text: str | None) -> float | None:
    for item in split_list(text):
        value = parse_float(item)
        if value is not None:
            return value
    return None


def unquote(text: str | None) -> str | None:
    """Strip whitespace and surrounding quotes; empty -> None."""
    if text is None:
        return None
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text or None


def distinct(items: Iterable[str]) -> tuple[str, ...]:
    """Order-preserving de-duplication of non-empty strings."""
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item:
            seen.setdefault(item, None)
    return tuple(seen)


def join_types(types: tuple[str, ...]) -> str | None:
    """The single filament_type string: 'PLA', or 'PLA;PETG' for several."""
    return ";".join(types) if types else None


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
