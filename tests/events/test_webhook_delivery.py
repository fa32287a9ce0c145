"""Webhook deliveries to a real receiver: signatures, retries, order, disabling, tests."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from apf_core import __version__
from apf_core.events.signatures import sign, verify
from tests.api.conftest import Api

from .conftest import Receiver, make_job


async def create_hook(api: Api, receiver: Receiver, **body: Any) -> dict[str, Any]:
    reply = await api.post("/webhooks", json={"url": receiver.url, **body}, key="write")
    assert reply.status == 201, reply.body
    return dict(reply.data)


async def deliveries(api: Api, hook_id: str, **params: str) -> list[dict[str, Any]]:
    reply = await api.get(f"/webhooks/{hook_id}/deliveries", key="write", params=params)
    assert reply.status == 200, reply.body
    return list(reply.data)


async def wait_until(check: Any, timeout: float = 10.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.05)


async def test_signed_delivery(api: Api, receiver: Receiver) -> None:
    hook = await create_hook(api, receiver, events=["job.*"])
    job = await make_job(api)
    await receiver.wait_for(lambda r: len(r.received) >= 1)
    got = receiver.received[0]
    assert got.event_type == "job.created"
    assert got.user_agent == f"APF-Webhooks/{__version__}"
    assert verify(hook["secret"], got.body, got.signature)
    assert got.signature == sign(hook["secret"], got.body)
    assert not verify("another-secret-value", got.body, got.signature)
    assert not verify(hook["secret"], got.body + b" ", got.signature)
    body = got.json
    assert set(body) == {"id", "type", "time", "data"}
    assert body["id"] == int(got.event_id)
    assert body["type"] == "job.created"
    assert body["data"]["id"] == job["id"]
    log = await api.get("/events", key="read", params={"type": "job.created"})
    assert log.data[-1]["id"] == body["id"]

    rows = await wait_until(lambda: deliveries(api, hook["id"], status="delivered"))
    assert rows[0]["event_id"] == body["id"]
    assert rows[0]["event_type"] == "job.created"
    assert rows[0]["attempts"] == 1
    assert rows[0]["last_status_code"] == 200
    assert rows[0]["last_error"] is None
    assert rows[0]["delivered_at"] is not None


async def test_only_matching_events_and_no_history(api: Api, receiver: Receiver) -> None:
    old_job = await make_job(api)  # before the webhook exists: not delivered
    await create_hook(api, receiver, events=["job.completed"])
    job = await make_job(api)
    await api.post(f"/jobs/{job['id']}/complete", json={}, key="all")
    await api.post(f"/jobs/{old_job['id']}/complete", json={}, key="all")
    await receiver.wait_for(lambda r: len(r.received) >= 2)
    await asyncio.sleep(0.3)
    assert [r.event_type for r in receiver.received] == ["job.completed", "job.completed"]
    assert [r.json["data"]["id"] for r in receiver.received] == [job["id"], old_job["id"]]


async def test_retry_after_500_keeps_order(api: Api, receiver: Receiver) -> None:
    hook = await create_hook(api, receiver, events=["job.*"])
    receiver.script = [500, 503]
    jobs = [await make_job(api) for _ in range(3)]
    await receiver.wait_for(lambda r: len(r.received) >= 3)
    assert [r.json["data"]["id"] for r in receiver.received] == [j["id"] for j in jobs]
    ids = receiver.ids()
    assert ids == sorted(ids)
    # the first event was tried three times; the others waited behind it
    assert receiver.attempts[:3] == [str(ids[0])] * 3
    rows = await wait_until(
        lambda: _all_delivered(api, hook["id"], 3)
    )
    first = next(r for r in rows if r["event_id"] == ids[0])
    assert first["attempts"] == 3
    assert first["last_status_code"] == 200
    assert first["last_error"] is None
    assert all(r["attempts"] == 1 for r in rows if r["event_id"] != ids[0])
    state = (await api.get(f"/webhooks/{hook['id']}", key="write")).data
    assert state["failure_count"] == 0
    assert state["enabled"] is True


async def _all_delivered(api: Api, hook_id: str, count: int) -> list[dict[str, Any]] | None:
    rows = await deliveries(api, hook_id)
    if len(rows) == count and all(r["status"] == "delivered" for r in rows):
        return rows
    return None


async def test_failures_are_logged_then_the_webhook_is_disabled(
    api: Api, receiver: Receiver
) -> None:
    worker = api.farm.webhook_worker
    worker.settings = dataclasses.replace(worker.settings, webhook_max_failures=3)
    hook = await create_hook(api, receiver, events=["job.*"])
    receiver.default_status = 500
    await make_job(api)
    await make_job(api)

    async def disabled() -> dict[str, Any] | None:
        data = (await api.get(f"/webhooks/{hook['id']}", key="write")).data
        return data if not data["enabled"] else None

    state = await wait_until(disabled)
    assert state["failure_count"] == 3
    assert state["disabled_reason"].startswith("Disabled after 3 consecutive failed deliveries")
    assert "HTTP 500" in state["disabled_reason"]
    rows = await deliveries(api, hook["id"])
    assert {r["status"] for r in rows} == {"failed"}
    head = min(rows, key=lambda r: r["event_id"])
    assert head["attempts"] == 3
    assert head["last_status_code"] == 500
    assert head["last_error"].startswith("HTTP 500")
    assert receiver.received == []
    # disabled: no more attempts
    count = len(receiver.attempts)
    await make_job(api)
    await asyncio.sleep(0.5)
    assert len(receiver.attempts) == count
    # re-enabled: failure state cleared, new events delivered
    receiver.default_status = 200
    enabled = await api.patch(f"/webhooks/{hook['id']}", json={"enabled": True}, key="write")
    assert enabled.data["failure_count"] == 0
    assert enabled.data["disabled_reason"] is None
    job = await make_job(api)
    await receiver.wait_for(lambda r: len(r.received) >= 1)
    assert receiver.received[0].json["data"]["id"] == job["id"]


async def test_unreachable_receiver_is_retried_and_logged(api: Api) -> None:
    worker = api.farm.webhook_worker
    worker.settings = dataclasses.replace(worker.settings, webhook_max_failures=1000)
    body = {"url": "http://127.0.0.1:1/nothing", "events": ["job.*"]}
    hook = (await api.post("/webhooks", json=body, key="write")).data
    await make_job(api)

    async def retried() -> dict[str, Any] | None:
        rows = await deliveries(api, hook["id"])
        head = min(rows, key=lambda r: r["event_id"]) if rows else None
        return head if head and head["attempts"] >= 2 else None

    head = await wait_until(retried)
    assert head["status"] == "pending"
    assert head["last_status_code"] is None
    assert head["last_error"].startswith("No HTTP response")
    assert head["next_attempt_at"] is not None


async def test_test_endpoint(api: Api, receiver: Receiver) -> None:
    hook = await create_hook(api, receiver, events=["job.*"])
    reply = await api.post(f"/webhooks/{hook['id']}/test", key="write")
    assert reply.status == 200, reply.body
    result = reply.data
    assert result["delivered"] is True
    assert result["status_code"] == 200
    assert result["error"] is None
    assert isinstance(result["duration_ms"], int)
    got = receiver.received[-1]
    assert got.event_id == "0"
    assert got.event_type == "webhook.test"
    assert verify(hook["secret"], got.body, got.signature)
    assert got.json["data"]["webhook_id"] == hook["id"]
    receiver.default_status = 500
    failed = (await api.post(f"/webhooks/{hook['id']}/test", key="write")).data
    assert failed["delivered"] is False
    assert failed["status_code"] == 500
    assert failed["error"].startswith("HTTP 500")
    state = (await api.get(f"/webhooks/{hook['id']}", key="write")).data
    assert state["failure_count"] == 0  # tests do not count
    assert await deliveries(api, hook["id"]) == []
    down = (await api.post("/webhooks", json={"url": "http://127.0.0.1:1/x"}, key="write")).data
    unreachable = (await api.post(f"/webhooks/{down['id']}/test", key="write")).data
    assert unreachable["delivered"] is False
    assert unreachable["status_code"] is None
    assert unreachable["error"].startswith("No HTTP response")


async def test_redirects_are_not_followed(api: Api, receiver: Receiver) -> None:
    hook = await create_hook(api, receiver)
    receiver.default_status = 302
    result = (await api.post(f"/webhooks/{hook['id']}/test", key="write")).data
    assert result["delivered"] is False
    assert result["status_code"] == 302


async def test_deleted_webhook_stops_and_loses_its_log(api: Api, receiver: Receiver) -> None:
    hook = await create_hook(api, receiver)
    receiver.default_status = 500
    await make_job(api)
    await wait_until(lambda: deliveries(api, hook["id"]))
    await api.delete(f"/webhooks/{hook['id']}", key="write")
    count = len(receiver.attempts)
    await asyncio.sleep(0.5)
    assert len(receiver.attempts) <= count + 1  # at most the attempt already in flight


async def test_expired_event_is_given_up(api: Api, receiver: Receiver) -> None:
    from sqlalchemy import delete

    from apf_core.storage.tables.spine import events

    worker = api.farm.webhook_worker
    await worker.stop()  # fan out and deliver by hand
    hook = await create_hook(api, receiver, events=["job.*"])
    job = await make_job(api)
    await api.post(f"/jobs/{job['id']}/complete", json={}, key="all")
    assert await worker.fan_out() == 2
    rows = await deliveries(api, hook["id"])
    first = min(r["event_id"] for r in rows)
    async with api.farm.db.begin() as conn:
        await conn.execute(delete(events).where(events.c.id == first))
    await worker.deliver_due()
    rows = {r["event_id"]: r for r in await deliveries(api, hook["id"])}
    assert rows[first]["status"] == "failed"
    assert rows[first]["last_error"] == "The event expired before delivery"
    assert [r.json["type"] for r in receiver.received] == ["job.completed"]
    await worker.close()


@pytest.mark.parametrize("status", [200, 201, 204, 299])
async def test_any_2xx_is_success(api: Api, receiver: Receiver, status: int) -> None:
    hook = await create_hook(api, receiver)
    receiver.default_status = status
    result = (await api.post(f"/webhooks/{hook['id']}/test", key="write")).data
    assert result["delivered"] is True
    assert result["status_code"] == status
