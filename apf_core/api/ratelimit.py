"""Per-key fixed-window rate limiting with ``X-RateLimit-*`` headers."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(slots=True)
class _Window:
    start: float
    count: int


class RateDecision(NamedTuple):
    """One request's verdict (a tuple: one is made per request)."""

    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch),
        }


class RateLimiter:
    """Counts requests per key in fixed windows aligned to ``window`` seconds."""

    def __init__(self, limit: int, window: int) -> None:
        self.limit = limit
        self.window = window
        self._windows: dict[str, _Window] = {}

    def hit(self, key_id: str, limit: int | None = None) -> RateDecision:
        limit = limit or self.limit
        now = time.time()
        start = now - (now % self.window)
        current = self._windows.get(key_id)
        if current is None or current.start != start:
            current = _Window(start, 0)
            self._windows[key_id] = current
        reset = start + self.window
        if current.count >= limit:
            return RateDecision(False, limit, 0, int(reset), max(1, math.ceil(reset - now)))
        current.count += 1
        return RateDecision(True, limit, limit - current.count, int(reset), 0)
