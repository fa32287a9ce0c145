"""3.11 Worklist: shapes, ordering, paging, transitions and their printer side effects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import (
    MAX_INT32,
    REF_TASK,
    TASK_STATUSES,
    TASK_TYPES,
    Api,
    assert_error,
    assert_fields,
    assert_list,
    assert_no_leaks,
    assert_validation,
)


async def task(api: Api, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Collect plate")
    body.setdefault("task_type", "collection")
    reply = await api.post("/worklist", json=body, key="write")
    assert reply.status == 201, reply.body
    assert_fields(reply.data, REF_TASK, "POST /worklist")
    assert_no_leaks(reply.body)
    return dict(reply.data)


async def idle_printer(api: Api) -> dict[str, Any]:
    printers = (await api.get("/printers")).data
    return next(p for p in printers if p["status"] == "idle")


async def test_create_defaults_and_hidden_fields(api: Api) -> None:
    made = await task(api, title="QC batch", task_type="quality_check", assigned_to="user-1",
                      metadata={"note": "secret"}, description="d", subtitle="s",
                      estimated_time_minutes=5, due_date="2030-01-02")
    assert made["priority"] == "medium" and made["status"] == "pending"
    assert made["due_date"].startswith("2030-01-02T00:00:00")
    for stamp in ("started_at", "completed_at", "actual_time_minutes"):
        assert made[stamp] is None
    got = await api.get(f"/worklist/{made['id']}", key="read")
    assert got.status == 200 and got.data == made
    assert_no_leaks(got.body)
    assert_error(await api.get("/worklist/nope"), 404, "TASK_NOT_FOUND")


async def test_list_order_paging_and_filters(api: Api) -> None:
    low = await task(api, title="low", priority="low")
    high_old = await task(api, title="high old", priority="high")
    await asyncio.sleep(0.01)
    high_new = await task(api, title="high new", priority="high")
    rows = assert_list(await api.get("/worklist", params={"limit": 100}, key="read"), REF_TASK,
                       paged=True)
    rank = {"high": 0, "medium": 1, "low": 2}
    keys = [(rank[r["priority"]], r["created_at"]) for r in rows]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys), "priority, high first"
    ids = [r["id"] for r in rows]
    assert ids.index(high_new["id"]) < ids.index(high_old["id"]) < ids.index(low["id"])
    page = await api.get("/worklist", params={"limit": 1, "offset": 1})
    assert page.body["meta"] == {"limit": 1, "offset": 1, "count": 1}
    assert page.data[0]["id"] == rows[1]["id"]
    for task_type in TASK_TYPES:
        typed = (await api.get("/worklist", params={"task_type": task_type})).data
        assert all(r["task_type"] == task_type for r in typed)
    for status in TASK_STATUSES:
        by_status = (await api.get("/worklist", params={"status": status})).data
        assert all(r["status"] == status for r in by_status)
    for params, field in (({"status": "done"}, "status"), ({"task_type": "x"}, "task_type"),
                          ({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                          ({"offset": -5}, "offset"), ({"limit": "1; DROP"}, "limit")):
        assert_validation(await api.get("/worklist", params=params), field)


async def test_stats(api: Api) -> None:
    await task(api, title="overdue", due_date="2000-01-01T00:00:00Z")
    stats = await api.get("/worklist/stats", key="read")
    assert stats.status == 200
    data = stats.data
    assert set(data["by_status"]) == set(TASK_STATUSES)
    assert set(data["by_type"]) == set(TASK_TYPES)
    assert data["overdue"] >= 1
    listed = (await api.get("/worklist", params={"limit": 100})).data
    assert sum(data["by_status"].values()) == len(listed)
    assert_no_leaks(stats.body)


async def test_start_and_complete_maintenance_drive_the_printer(api: Api) -> None:
    printer = await idle_printer(api)
    made = await task(api, title="Belt tension", task_type="maintenance",
                      printer_id=printer["id"])
    started = await api.post(f"/worklist/{made['id']}/start", key="write")
    assert started.status == 200, started.body
    assert_fields(started.data, REF_TASK)
    assert started.data["status"] == "in_progress" and started.data["started_at"]
    during = (await api.get(f"/printers/{printer['id']}")).data
    assert during["status"] == "maintenance" and during["in_maintenance"] is True
    assert_error(await api.post(f"/worklist/{made['id']}/start"), 409, "INVALID_STATE")
    done = await api.post(f"/worklist/{made['id']}/complete")
    assert done.status == 200, done.body
    assert done.data["status"] == "completed" and done.data["completed_at"]
    assert done.data["actual_time_minutes"] is not None
    after = (await api.get(f"/printers/{printer['id']}")).data
    assert after["in_maintenance"] is False and after["status"] != "maintenance"
    assert after["last_maintenance_date"]
    assert_error(await api.post(f"/worklist/{made['id']}/complete"), 409, "INVALID_STATE")
    assert_error(await api.post("/worklist/nope/start"), 404, "TASK_NOT_FOUND")
    assert_error(await api.post("/worklist/nope/complete"), 404, "TASK_NOT_FOUND")


async def test_filament_change_updates_the_printer(api: Api) -> None:
    printer = await idle_printer(api)
    made = await task(api, title="Load PETG", task_type="filament_change",
                      printer_id=printer["id"],
                      metadata={"filament_type": "PETG", "color": "Galaxy", "color_hex": "#112233"})
    done = await api.post(f"/worklist/{made['id']}/complete")
    assert done.status == 200, done.body
    after = (await api.get(f"/printers/{printer['id']}")).data
    assert (after["current_filament_type"], after["current_color"],
            after["current_color_hex"]) == ("PETG", "Galaxy", "#112233")


async def test_put_status_stamps(api: Api) -> None:
    made = await task(api)
    path = f"/worklist/{made['id']}/status"
    moving = await api.put(path, json={"status": "in_progress"}, key="write")
    assert moving.status == 200 and moving.data["started_at"]
    assert_fields(moving.data, REF_TASK)
    cancelled = await api.put(path, json={"status": "cancelled"})
    assert cancelled.data["status"] == "cancelled" and cancelled.data["completed_at"]
    assert cancelled.data["actual_time_minutes"] is not None
    for body, field in (({}, "status"), ({"status": "archived"}, "status"),
                        ({"status": None}, "status"), ({"status": "pending", "x": 1}, "x")):
        assert_validation(await api.put(path, json=body), field)
    assert_error(await api.put("/worklist/nope/status", json={"status": "pending"}), 404,
                 "TASK_NOT_FOUND")


async def test_assign_never_returns_the_assignee(api: Api) -> None:
    made = await task(api)
    path = f"/worklist/{made['id']}/assign"
    for who in ("member-42", None):
        reply = await api.put(path, json={"assigned_to": who}, key="write")
        assert reply.status == 200, reply.body
        assert_fields(reply.data, REF_TASK)
        assert_no_leaks(reply.body)
    assert_validation(await api.put(path, json={}), "assigned_to")
    assert_validation(await api.put(path, json={"assigned_to": 5}), "assigned_to")
    assert_error(await api.put("/worklist/nope/assign", json={"assigned_to": None}), 404,
                 "TASK_NOT_FOUND")


async def test_patch(api: Api) -> None:
    made = await task(api)
    path = f"/worklist/{made['id']}"
    reply = await api.patch(path, json={"title": "Renamed", "priority": "high",
                                        "due_date": None, "estimated_time_minutes": 7})
    assert reply.status == 200, reply.body
    assert_fields(reply.data, REF_TASK)
    assert (reply.data["title"], reply.data["priority"], reply.data["estimated_time_minutes"]) == (
        "Renamed", "high", 7)
    for body, field in (({"status": "completed"}, "status"), ({"task_type": "assembly"},
                                                                "task_type"),
                        ({"title": ""}, "title"), ({"priority": "urgent"}, "priority"),
                        ({"started_at": "2020-01-01"}, "started_at")):
        assert_validation(await api.patch(path, json=body), field)
    assert_error(await api.patch(path, json={"printer_id": "nope"}), 404, "PRINTER_NOT_FOUND")
    assert_error(await api.patch("/worklist/nope", json={"title": "x"}), 404, "TASK_NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"task_type": "collection"}, "title"), ({"title": "t"}, "task_type"),
     ({"title": "", "task_type": "collection"}, "title"),
     ({"title": "t" * 201, "task_type": "collection"}, "title"),
     ({"title": "t", "task_type": "cleaning"}, "task_type"),
     ({"title": "t", "task_type": "collection", "priority": "urgent"}, "priority"),
     ({"title": "t", "task_type": "collection", "subtitle": "s" * 201}, "subtitle"),
     ({"title": "t", "task_type": "collection", "description": "d" * 2001}, "description"),
     ({"title": "t", "task_type": "collection", "estimated_time_minutes": -1},
      "estimated_time_minutes"),
     ({"title": "t", "task_type": "collection", "estimated_time_minutes": 2.5},
      "estimated_time_minutes"),
     ({"title": "t", "task_type": "collection", "estimated_time_minutes": MAX_INT32 + 1},
      "estimated_time_minutes"),
     ({"title": "t", "task_type": "collection", "due_date": "tomorrow"}, "due_date"),
     ({"title": "t", "task_type": "collection", "due_date": 12345}, "due_date"),
     ({"title": "t", "task_type": "collection", "due_date": True}, "due_date"),
     ({"title": "t", "task_type": "collection", "due_date": "9999-12-31T23:59:59-05:00"},
      "due_date"),
     ({"title": "t", "task_type": "collection", "status": "completed"}, "status"),
     ({"title": "t", "task_type": "collection", "id": "mine"}, "id"),
     ({"title": "t", "task_type": "collection", "apply_default_assignee": "no"},
      "apply_default_assignee")],
)
async def test_create_validation(api: Api, body: dict[str, Any], field: str) -> None:
    assert_validation(await api.post("/worklist", json=body), field)


async def test_create_with_unknown_printer(api: Api) -> None:
    for printer_id in ("nope", "x" * 64):
        reply = await api.post("/worklist", json={"title": "t", "task_type": "maintenance",
                                                  "printer_id": printer_id})
        assert_error(reply, 404, "PRINTER_NOT_FOUND")


async def test_scopes(api: Api) -> None:
    for path in ("/worklist", "/worklist/stats", "/worklist/x"):
        reply = await api.get(path, key="write")
        assert_error(reply, 403, "INSUFFICIENT_SCOPE")
        assert reply.body["error"] == "API key missing required scope: read"
    for method, path, body in (
        ("POST", "/worklist", {"title": "t", "task_type": "collection"}),
        ("PATCH", "/worklist/x", {"title": "t"}), ("PUT", "/worklist/x/status",
                                                   {"status": "pending"}),
        ("PUT", "/worklist/x/assign", {"assigned_to": None}), ("POST", "/worklist/x/start", None),
        ("POST", "/worklist/x/complete", None),
    ):
        reply = await api.request(method, path, json=body, key="read")
        assert_error(reply, 403, "INSUFFICIENT_SCOPE")
        assert reply.body["error"] == "API key missing required scope: write"


async def test_concurrent_completes_apply_once(api: Api) -> None:
    printer = await idle_printer(api)
    made = await task(api, title="Race", task_type="maintenance", printer_id=printer["id"])
    replies = await asyncio.gather(
        *(api.post(f"/worklist/{made['id']}/complete") for _ in range(6))
    )
    assert sorted(r.status for r in replies) == [200] + [409] * 5
    assert all(r.code == "INVALID_STATE" for r in replies if r.status == 409)
    after = (await api.get(f"/printers/{printer['id']}")).data
    assert after["in_maintenance"] is False and after["last_maintenance_date"]


async def test_delete(api: Api) -> None:
    made = await task(api)
    assert_error(await api.delete(f"/worklist/{made['id']}", key="read"), 403,
                 "INSUFFICIENT_SCOPE")
    assert (await api.delete(f"/worklist/{made['id']}", key="write")).status == 200
    assert_error(await api.get(f"/worklist/{made['id']}"), 404, "TASK_NOT_FOUND")
    assert_error(await api.delete(f"/worklist/{made['id']}"), 404, "TASK_NOT_FOUND")
