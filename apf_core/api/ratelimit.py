"""Per-key fixed-window rate limiting with ``X-RateLimit-*`` headers."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

from multidict import CIMultiDict, istr

LIMIT_HEADER = istr("X-RateLimit-Limit")
REMAINING_HEADER = istr("X-RateLimit-Remaining")
RESET_HEADER = istr("X-RateLimit-Reset")


@dataclass(slots=True)
class _Window:
    """One key's current window; its limit and reset are rendered once per window."""

    end: float
    limit: int
    count: int
    limit_text: str
    reset_text: str


class RateDecision(NamedTuple):
    """One request's verdict (a tuple: one is made per request)."""

    allowed: bool
    window: _Window
    remaining: int
    retry_after: int

    def add_headers(self, headers: CIMultiDict[str]) -> None:
        headers[LIMIT_HEADER] = self.window.limit_text
        headers[REMAINING_HEADER] = str(self.remaining)
        headers[RESET_HEADER] = self.window.reset_text


class RateLimiter:
    """Counts requests per key in fixed windows aligned to ``window`` seconds."""

    def __init__(self, limit: int, window: int) -> None:
        self.limit = limit
        self.window = window
        self._windows: dict[str, _Window] = {}

    def hit(self, key_id: str, limit: int | None = None) -> RateDecision:
        limit = limit or self.limit
        now = time.time()
        current = self._windows.get(key_id)
        if current is None or now >= current.end or current.limit != limit:
            current = self._open(key_id, now, limit)
        if current.count >= limit:
            return RateDecision(False, current, 0, max(1, math.ceil(current.end - now)))
        current.count += 1
        return RateDecision(True, current, limit - current.count, 0)

    def _open(self, key_id: str, now: float, limit: int) -> _Window:
        """The window ``now`` falls in; a key whose limit changed keeps its count."""
        end = now - (now % self.window) + self.window
        old = self._windows.get(key_id)
        count = old.count if old is not None and old.end == end else 0
        window = _Window(end, limit, count, str(limit), str(int(end)))
        self._windows[key_id] = window
        return window
