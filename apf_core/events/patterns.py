"""Event type patterns: ``job.started`` (exact), ``job.*`` (prefix) and ``*`` (all)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

_PATTERN = re.compile(r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")
MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 64


def valid_pattern(pattern: str) -> bool:
    return len(pattern) <= MAX_PATTERN_LENGTH and bool(_PATTERN.match(pattern))


def parse_patterns(value: Any) -> list[str]:
    """Patterns from a list or a comma-separated string; raises ValueError on bad ones."""
    if value is None:
        return ["*"]
    items: Iterable[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ValueError("types must be a list of strings")
    patterns: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("types must be strings")
        item = item.strip()
        if not item:
            continue
        if not valid_pattern(item):
            raise ValueError(f"invalid event type pattern: {item!r}")
        if item not in patterns:
            patterns.append(item)
    if len(patterns) > MAX_PATTERNS:
        raise ValueError(f"at most {MAX_PATTERNS} patterns")
    return patterns or ["*"]


class TypeFilter:
    """A compiled set of patterns."""

    __slots__ = ("all", "exact", "patterns", "prefixes")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self.all = "*" in self.patterns
        self.exact = frozenset(p for p in self.patterns if not p.endswith("*"))
        self.prefixes = tuple(p[:-1] for p in self.patterns if p.endswith(".*"))

    def __call__(self, event_type: str) -> bool:
        return self.all or event_type in self.exact or event_type.startswith(self.prefixes)

    def clause(self, column: Any) -> ColumnElement[bool]:
        """The same filter as SQL on ``column`` (a type column)."""
        if self.all:
            return true()
        parts: list[ColumnElement[bool]] = []
        if self.exact:
            parts.append(column.in_(sorted(self.exact)))
        parts.extend(column.startswith(prefix, autoescape=True) for prefix in self.prefixes)
        return or_(*parts) if parts else false()


def matches(patterns: Sequence[str], event_type: str) -> bool:
    return TypeFilter(patterns)(event_type)
