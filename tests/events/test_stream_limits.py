"""WebSocket bounds: caps per key and in total, key re-check, last_event_id ahead of the log."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import update

from apf_core.services.keys import KeyService
from apf_core.storage.tables.spine import api_keys
from apf_core.timeutil import utcnow
from tests.events.conftest import make_job, open_stream


@pytest.fixture(autouse=True)
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APF_EVENT_WS_MAX", "6")
    monkeypatch.setenv("APF_EVENT_WS_MAX_PER_KEY", "3")
    monkeypatch.setenv("APF_EVENT_WS_KEY_CHECK", "0.3")


async def _closed_with(stream, code: str) -> int:
    frame = await stream.frame(timeout=5)
    while frame["kind"] == "event":  # events committed before the cut may still arrive first
        frame = await stream.frame(timeout=5)
    assert frame == {"kind": "error", "code": code, "error": frame["error"]}
    msg = await stream.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    return int(stream.ws.close_code or 0)


async def test_per_key_cap(api) -> None:
    streams = [await open_stream(api) for _ in range(3)]
    extra = await open_stream(api, expect_welcome=False)
    assert await _closed_with(extra, "TOO_MANY_STREAMS") == 1013
    other = await open_stream(api, key="all")  # another key still gets in
    await streams[0].close()
    await asyncio.sleep(0.2)
    again = await open_stream(api)  # a slot was freed
    for stream in (*streams[1:], other, again):
        await stream.close()


async def test_total_cap_counts_unauthenticated_sockets(api) -> None:
    anonymous = [await open_stream(api, key=None, expect_welcome=False) for _ in range(6)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await open_stream(api)
    assert refused.value.status == 503
    for stream in anonymous:
        await stream.close()
    await asyncio.sleep(0.2)
    stream = await open_stream(api)
    await stream.close()


async def _new_key(api, name: str) -> tuple[str, str]:
    key, record = await KeyService(api.farm.db).create(name, ["read"])
    return key, record["id"]


async def test_revoked_key_is_cut_off(api) -> None:
    key, key_id = await _new_key(api, "revoke-me")
    stream = await open_stream(api, key=key)
    await KeyService(api.farm.db).revoke(key_id)  # as `apf keys revoke` does
    assert await _closed_with(stream, "TOKEN_REVOKED") == 1008


async def test_expired_key_is_cut_off(api) -> None:
    key, key_id = await _new_key(api, "expire-me")
    stream = await open_stream(api, key=key)
    async with api.farm.db.begin() as conn:
        await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await _closed_with(stream, "TOKEN_EXPIRED") == 1008


async def test_last_event_id_ahead_gets_a_warning_and_live_events(api) -> None:
    stream = await open_stream(api, params={"last_event_id": str(10**12)})
    warning = stream.welcome["warning"]
    assert warning["code"] == "LAST_EVENT_ID_AHEAD"
    assert str(stream.welcome["last_event_id"]) in warning["message"]
    job = await make_job(api)
    frames = await stream.events_until(lambda f: f["data"].get("id") == job["id"])
    assert frames, "live events must flow after the warning"
    await stream.close()
