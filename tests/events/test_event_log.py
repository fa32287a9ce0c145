"""GET /events: the event log for pollers."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

from .conftest import make_job


async def test_log_pages_by_id_and_filters_by_type(api: Api) -> None:
    start = (await api.get("/events", key="read")).body["meta"]["last_event_id"]
    jobs = [await make_job(api) for _ in range(3)]
    await api.post(f"/jobs/{jobs[0]['id']}/complete", json={}, key="all")
    reply = await api.get("/events", key="read", params={"after": start})
    assert reply.status == 200
    data = reply.data
    assert [e["type"] for e in data] == ["job.created"] * 3 + ["job.completed"]
    assert [e["id"] for e in data] == sorted(e["id"] for e in data)
    assert set(data[0]) == {"id", "type", "time", "data"}
    assert data[0]["data"]["id"] == jobs[0]["id"]
    assert reply.body["meta"] == {
        "limit": 100, "after": start, "count": 4, "last_event_id": data[-1]["id"]
    }
    page = await api.get("/events", key="read", params={"after": start, "limit": 2})
    assert [e["id"] for e in page.data] == [e["id"] for e in data[:2]]
    rest = await api.get("/events", key="read", params={"after": page.data[-1]["id"]})
    assert [e["id"] for e in rest.data] == [e["id"] for e in data[2:]]
    only = await api.get("/events", key="read", params={"after": start, "type": "job.completed"})
    assert [e["type"] for e in only.data] == ["job.completed"]
    several = await api.get(
        "/events", key="read", params={"after": start, "type": "job.completed,printer.*"}
    )
    assert [e["type"] for e in several.data] == ["job.completed"]
    wildcard = await api.get("/events", key="read", params={"after": start, "type": "job.*"})
    assert len(wildcard.data) == 4
    none = await api.get("/events", key="read", params={"after": start, "type": "order.*"})
    assert none.data == []
    assert none.body["meta"]["count"] == 0


async def test_underscore_in_a_prefix_is_not_a_wildcard(api: Api) -> None:
    start = (await api.get("/events", key="read")).body["meta"]["last_event_id"]
    async with api.farm.db.begin() as conn:
        await api.farm.events.emit(conn, "a_b.x", {})
        await api.farm.events.emit(conn, "axb.x", {})
    reply = await api.get("/events", key="read", params={"after": start, "type": "a_b.*"})
    assert [e["type"] for e in reply.data] == ["a_b.x"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"after": "-1"}, "after"),
        ({"type": "job.**"}, "type"),
        ({"type": "JOB"}, "type"),
    ],
)
async def test_validation(api: Api, params: dict[str, str], field: str) -> None:
    reply = await api.get("/events", key="read", params=params)
    assert reply.status == 400
    assert reply.code == "VALIDATION_ERROR"
    assert reply.body["details"][0]["field"] == field


@pytest.mark.parametrize(
    ("key", "status", "code"),
    [
        ("read", 200, None),
        ("all", 200, None),
        ("write", 403, "INSUFFICIENT_SCOPE"),
        ("control", 403, "INSUFFICIENT_SCOPE"),
        (None, 401, "UNAUTHORIZED"),
        ("malformed", 401, "TOKEN_INVALID"),
        ("invalid", 401, "TOKEN_INVALID"),
        ("revoked", 401, "TOKEN_REVOKED"),
        ("expired", 401, "TOKEN_EXPIRED"),
    ],
)
async def test_scope_matrix(api: Api, key: str | None, status: int, code: str | None) -> None:
    reply = await api.get("/events", key=key)
    assert reply.status == status
    if code:
        assert reply.code == code
    if code == "INSUFFICIENT_SCOPE":
        assert reply.body["error"] == "API key missing required scope: read"


async def test_rolled_back_events_are_not_stored(api: Api) -> None:
    start = (await api.get("/events", key="read")).body["meta"]["last_event_id"]
    async def abort() -> None:
        async with api.farm.db.begin() as conn:
            await api.farm.events.emit(conn, "test.rolled_back", {})
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await abort()
    async with api.farm.db.begin() as conn:
        await api.farm.events.emit(conn, "test.kept", {"n": 1})
    reply = await api.get("/events", key="read", params={"after": start})
    # the demo printers may come online meanwhile: only this test's events count
    assert [e["type"] for e in reply.data if e["type"].startswith("test.")] == ["test.kept"]


async def test_openapi_lists_the_stream_and_webhooks(api: Api) -> None:
    spec = (await api.get("/openapi.json", key=None)).body
    paths = spec["paths"]
    ws = paths["/public/v1/events/ws"]["get"]
    assert "101" in ws["responses"]
    assert "last_event_id" in {p["name"] for p in ws["parameters"]}
    assert "/public/v1/events" in paths
    for path in ("/public/v1/webhooks", "/public/v1/webhooks/{id}",
                 "/public/v1/webhooks/{id}/test", "/public/v1/webhooks/{id}/deliveries"):
        assert path in paths, path
    assert "X-APF-Signature" in paths["/public/v1/webhooks"]["post"]["description"]
