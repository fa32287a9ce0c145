"""Per-key fixed-window rate limits."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def farm_options() -> dict:
    return {"rate_limit": 5, "rate_window_seconds": 3600}


async def test_headers_and_429(api) -> None:
    seen = []
    for _ in range(5):
        reply = await api.get("/printers", key="read")
        assert reply.status == 200
        seen.append(int(reply.headers["X-RateLimit-Remaining"]))
        assert reply.headers["X-RateLimit-Limit"] == "5"
        reset = int(reply.headers["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 3600
    assert seen == [4, 3, 2, 1, 0]
    limited = await api.get("/printers", key="read")
    assert limited.status == 429 and limited.code == "RATE_LIMITED"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    # another key has its own budget
    assert (await api.get("/printers", key="all")).status == 200


async def test_errors_count_and_carry_headers(api) -> None:
    reply = await api.get("/printers/missing", key="read")
    assert reply.status == 404 and reply.headers["X-RateLimit-Remaining"] == "4"
    denied = await api.post("/printers", json={}, key="read")
    assert denied.status == 403 and denied.headers["X-RateLimit-Remaining"] == "3"


async def test_per_key_override(api) -> None:
    from apf_core.api.app import KEYS

    key, _ = await api.server.app[KEYS].create("tight", ["read"], rate_limit=1)
    assert (await api.get("/printers", key=key)).headers["X-RateLimit-Limit"] == "1"
    assert (await api.get("/printers", key=key)).status == 429


def test_windows_roll_over_and_a_changed_limit_keeps_the_count(monkeypatch) -> None:
    from apf_core.api import ratelimit
    from apf_core.api.ratelimit import RateLimiter

    now = [7200.5]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    limiter = RateLimiter(limit=2, window=60)
    assert [limiter.hit("k").remaining for _ in range(2)] == [1, 0]
    refused = limiter.hit("k")
    assert not refused.allowed and refused.retry_after == 60
    now[0] = 7259.9  # same window: still refused, retry within a second
    assert not limiter.hit("k").allowed and limiter.hit("k").retry_after == 1
    assert limiter.hit("k", limit=5).remaining == 2  # a raised limit counts what was used
    now[0] = 7260.0  # the next window starts afresh and says when it resets
    fresh = limiter.hit("k")
    assert fresh.allowed and fresh.remaining == 1
    headers: dict[str, str] = {}
    fresh.add_headers(headers)  # type: ignore[arg-type]
    assert headers == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": "7320",
    }
