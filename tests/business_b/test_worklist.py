"""Worklist (reference 3.11), including the printer side effects."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from apf_core.storage.tables.spine import jobs, printers
from apf_core.timeutil import iso, new_id, utcnow

from .helpers import validation_fields

TASK_KEYS = {
    "id", "title", "subtitle", "description", "task_type", "priority", "status", "printer_id",
    "estimated_time_minutes", "actual_time_minutes", "started_at", "completed_at", "due_date",
    "created_at", "updated_at",
}


async def make_task(api, **fields):
    body = {"title": "Collect plate", "task_type": "collection"} | fields
    reply = await api.post("/worklist", json=body, key="write")
    assert reply.status == 201, reply.body
    return reply.data


async def printer_id(api, name: str = "MK4") -> str:
    printers_ = (await api.get("/printers", key="read")).data
    return next(p["id"] for p in printers_ if p["name"] == name)


async def printer(api, pid: str) -> dict:
    return (await api.get(f"/printers/{pid}", key="read")).data


async def test_create_defaults_and_projection(empty_api) -> None:
    task = await make_task(empty_api)
    assert set(task) == TASK_KEYS
    assert task["status"] == "pending"
    assert task["priority"] == "medium"
    assert task["started_at"] is None
    full = await make_task(
        empty_api, title="Check", subtitle="Batch 4", description="Look for stringing",
        task_type="quality_check", priority="high", estimated_time_minutes=15,
        due_date="2030-01-02T03:04:05Z", assigned_to="user-7", apply_default_assignee=False,
        metadata={"anything": 1},
    )
    assert full["due_date"] == "2030-01-02T03:04:05Z"
    assert full["estimated_time_minutes"] == 15
    assert "assigned_to" not in full
    assert "metadata" not in full
    got = await empty_api.get(f"/worklist/{full['id']}", key="read")
    assert got.data == full


@pytest.mark.parametrize(
    ("body", "field"),
    [({"task_type": "collection"}, "title"), ({"title": "t"}, "task_type"),
     ({"title": "t", "task_type": "cleaning"}, "task_type"),
     ({"title": "t", "task_type": "collection", "priority": "urgent"}, "priority"),
     ({"title": "t", "task_type": "collection", "estimated_time_minutes": -1},
      "estimated_time_minutes"),
     ({"title": "t", "task_type": "collection", "due_date": "tomorrow"}, "due_date"),
     ({"title": "t", "task_type": "collection", "metadata": [1]}, "metadata"),
     ({"title": "x" * 201, "task_type": "collection"}, "title"),
     ({"title": "t", "task_type": "collection", "status": "completed"}, "status")],
)
async def test_create_validation(empty_api, body, field) -> None:
    reply = await empty_api.post("/worklist", json=body, key="write")
    assert field in validation_fields(reply)


async def test_unknown_printer(empty_api) -> None:
    reply = await empty_api.post("/worklist", key="write", json={
        "title": "t", "task_type": "maintenance", "printer_id": str(uuid.uuid4())})
    assert reply.status == 404
    assert reply.code == "PRINTER_NOT_FOUND"


async def test_list_order_filters_and_paging(empty_api) -> None:
    low = await make_task(empty_api, title="low", priority="low")
    high_old = await make_task(empty_api, title="high-old", priority="high")
    medium = await make_task(empty_api, title="medium", task_type="assembly")
    high_new = await make_task(empty_api, title="high-new", priority="high")
    reply = await empty_api.get("/worklist", key="read")
    assert [t["id"] for t in reply.data] == [high_new["id"], high_old["id"], medium["id"],
                                             low["id"]]
    assert reply.body["meta"] == {"limit": 50, "offset": 0, "count": 4}
    page = await empty_api.get("/worklist", params={"limit": 2, "offset": 1}, key="read")
    assert [t["title"] for t in page.data] == ["high-old", "medium"]
    assert page.body["meta"] == {"limit": 2, "offset": 1, "count": 2}
    assembly = await empty_api.get("/worklist", params={"task_type": "assembly"}, key="read")
    assert [t["title"] for t in assembly.data] == ["medium"]
    await empty_api.post(f"/worklist/{low['id']}/complete", key="write")
    done = await empty_api.get("/worklist", params={"status": "completed"}, key="read")
    assert [t["title"] for t in done.data] == ["low"]
    for params, field in (({"status": "done"}, "status"), ({"task_type": "x"}, "task_type"),
                          ({"limit": 500}, "limit")):
        assert field in validation_fields(await empty_api.get("/worklist", params=params,
                                                              key="read"))


async def test_get_patch_delete_and_not_found(api) -> None:
    task = await make_task(api)
    pid = await printer_id(api)
    patched = await api.patch(f"/worklist/{task['id']}", key="write", json={
        "title": "Renamed", "priority": "low", "printer_id": pid, "subtitle": None,
        "due_date": "2031-05-01",
    })
    assert patched.status == 200, patched.body
    assert patched.data["title"] == "Renamed"
    assert patched.data["printer_id"] == pid
    assert patched.data["due_date"] == "2031-05-01T00:00:00Z"
    bad_printer = await api.patch(f"/worklist/{task['id']}", json={"printer_id": "nope"},
                                  key="write")
    assert bad_printer.code == "PRINTER_NOT_FOUND"
    no_status = await api.patch(f"/worklist/{task['id']}", json={"status": "completed"},
                                key="write")
    assert "status" in validation_fields(no_status)
    deleted = await api.delete(f"/worklist/{task['id']}", key="write")
    assert deleted.data == {"id": task["id"], "deleted": True}
    missing = str(uuid.uuid4())
    for method, path, body in (
        ("GET", f"/worklist/{missing}", None), ("PATCH", f"/worklist/{missing}", {"title": "x"}),
        ("DELETE", f"/worklist/{missing}", None),
        ("PUT", f"/worklist/{missing}/status", {"status": "completed"}),
        ("PUT", f"/worklist/{missing}/assign", {"assigned_to": None}),
        ("POST", f"/worklist/{missing}/start", None),
        ("POST", f"/worklist/{missing}/complete", None),
    ):
        reply = await api.request(method, path, json=body)
        assert reply.status == 404, (method, path)
        assert reply.code == "TASK_NOT_FOUND"


async def test_status_transitions_stamp_times(empty_api) -> None:
    task = await make_task(empty_api)
    path = f"/worklist/{task['id']}/status"
    started = await empty_api.put(path, json={"status": "in_progress"}, key="write")
    assert started.data["status"] == "in_progress"
    assert started.data["started_at"]
    done = await empty_api.put(path, json={"status": "completed"}, key="write")
    assert done.data["completed_at"]
    assert done.data["actual_time_minutes"] == 0
    assert done.data["started_at"] == started.data["started_at"]
    cancelled = await make_task(empty_api)
    reply = await empty_api.put(f"/worklist/{cancelled['id']}/status",
                                json={"status": "cancelled"}, key="write")
    assert reply.data["completed_at"]
    assert reply.data["actual_time_minutes"] is None  # never started
    bad = await empty_api.put(path, json={"status": "done"}, key="write")
    assert "status" in validation_fields(bad)


async def test_actual_minutes_from_started_at(empty_api) -> None:
    task = await make_task(empty_api)
    await empty_api.post(f"/worklist/{task['id']}/start", key="write")
    from apf_core.storage.tables.worklist import worklist_tasks

    async with empty_api.farm.db.begin() as conn:
        await conn.execute(update(worklist_tasks).where(worklist_tasks.c.id == task["id"])
                           .values(started_at=utcnow() - timedelta(minutes=42)))
    done = await empty_api.post(f"/worklist/{task['id']}/complete", key="write")
    assert done.data["actual_time_minutes"] == 42


async def test_start_and_complete_state_rules(empty_api) -> None:
    task = await make_task(empty_api)
    base = f"/worklist/{task['id']}"
    assert (await empty_api.post(f"{base}/start", key="write")).data["status"] == "in_progress"
    twice = await empty_api.post(f"{base}/start", key="write")
    assert twice.status == 409
    assert twice.code == "INVALID_STATE"
    assert (await empty_api.post(f"{base}/complete", key="write")).data["status"] == "completed"
    again = await empty_api.post(f"{base}/complete", key="write")
    assert again.status == 409
    assert again.code == "INVALID_STATE"
    direct = await make_task(empty_api)
    done = await empty_api.post(f"/worklist/{direct['id']}/complete", key="write")
    assert done.data["status"] == "completed"  # pending can be completed directly


async def test_assign_is_stored_but_never_returned(empty_api) -> None:
    task = await make_task(empty_api)
    reply = await empty_api.put(f"/worklist/{task['id']}/assign", json={"assigned_to": "u-1"},
                                key="write")
    assert reply.status == 200
    assert "assigned_to" not in reply.data
    from apf_core.storage.tables.worklist import worklist_tasks

    async with empty_api.farm.db.read() as conn:
        stored = await conn.scalar(worklist_tasks.select().with_only_columns(
            worklist_tasks.c.assigned_to).where(worklist_tasks.c.id == task["id"]))
    assert stored == "u-1"
    cleared = await empty_api.put(f"/worklist/{task['id']}/assign", json={"assigned_to": None},
                                  key="write")
    assert cleared.status == 200
    missing = await empty_api.put(f"/worklist/{task['id']}/assign", json={}, key="write")
    assert "assigned_to" in validation_fields(missing)


async def test_maintenance_task_drives_printer(api) -> None:
    pid = await printer_id(api)
    before = await printer(api, pid)
    assert before["in_maintenance"] is False
    task = await make_task(api, title="Replace nozzle", task_type="maintenance", printer_id=pid)
    started = await api.post(f"/worklist/{task['id']}/start", key="write")
    assert started.status == 200, started.body
    during = await printer(api, pid)
    assert during["status"] == "maintenance"
    assert during["in_maintenance"] is True
    assert during["maintenance_type"] == "Replace nozzle"
    done = await api.post(f"/worklist/{task['id']}/complete", key="write")
    assert done.status == 200
    after = await printer(api, pid)
    assert after["in_maintenance"] is False
    assert after["status"] != "maintenance"
    assert after["last_maintenance_date"]
    assert after["last_maintenance_date"] >= started.data["started_at"]


async def test_maintenance_completed_without_start_still_stamps(api) -> None:
    pid = await printer_id(api, "X1C")
    task = await make_task(api, task_type="maintenance", printer_id=pid)
    await api.post(f"/worklist/{task['id']}/complete", key="write")
    after = await printer(api, pid)
    assert after["last_maintenance_date"]
    assert after["in_maintenance"] is False


async def test_cancelling_started_maintenance_releases_without_stamp(api) -> None:
    pid = await printer_id(api)
    task = await make_task(api, task_type="maintenance", printer_id=pid)
    await api.put(f"/worklist/{task['id']}/status", json={"status": "in_progress"}, key="write")
    assert (await printer(api, pid))["in_maintenance"] is True
    await api.put(f"/worklist/{task['id']}/status", json={"status": "cancelled"}, key="write")
    after = await printer(api, pid)
    assert after["in_maintenance"] is False
    assert after["last_maintenance_date"] is None


async def test_maintenance_refused_while_printing(api) -> None:
    pid = await printer_id(api)
    async with api.farm.db.begin() as conn:
        now = utcnow()
        await conn.execute(jobs.insert().values(
            id=new_id(), status="printing", printer_id=pid, time_submitted=now, created_at=now,
            updated_at=now,
        ))
        await conn.execute(update(printers).where(printers.c.id == pid).values(status="printing"))
    task = await make_task(api, task_type="maintenance", printer_id=pid)
    reply = await api.post(f"/worklist/{task['id']}/start", key="write")
    assert reply.status == 409
    assert reply.code == "PRINTER_PRINTING"
    unchanged = (await api.get(f"/worklist/{task['id']}", key="read")).data
    assert unchanged["status"] == "pending"  # the whole transition rolled back
    assert (await printer(api, pid))["in_maintenance"] is False


async def test_filament_change_updates_printer(api) -> None:
    pid = await printer_id(api, "Voron 2.4")
    task = await make_task(api, title="Load silk gold", task_type="filament_change",
                           printer_id=pid, metadata={"filament_type": "PLA Silk",
                                                     "color": "Gold", "color_hex": "#FFD700"})
    await api.post(f"/worklist/{task['id']}/start", key="write")
    assert (await printer(api, pid))["current_color"] == "Black"  # not before completion
    await api.post(f"/worklist/{task['id']}/complete", key="write")
    after = await printer(api, pid)
    assert (after["current_filament_type"], after["current_color"],
            after["current_color_hex"]) == ("PLA Silk", "Gold", "#FFD700")


async def test_filament_change_without_data_changes_nothing(api) -> None:
    pid = await printer_id(api, "Voron 2.4")
    task = await make_task(api, task_type="filament_change", printer_id=pid)
    await api.post(f"/worklist/{task['id']}/complete", key="write")
    after = await printer(api, pid)
    assert after["current_color"] == "Black"


async def test_stats(empty_api) -> None:
    past = iso(utcnow() - timedelta(days=1))
    future = iso(utcnow() + timedelta(days=1))
    await make_task(empty_api, task_type="maintenance", due_date=past)      # overdue
    await make_task(empty_api, task_type="maintenance", due_date=future)
    started = await make_task(empty_api, task_type="assembly", due_date=past)  # overdue
    await empty_api.post(f"/worklist/{started['id']}/start", key="write")
    done = await make_task(empty_api, task_type="collection", due_date=past)  # done: not overdue
    await empty_api.post(f"/worklist/{done['id']}/complete", key="write")
    reply = await empty_api.get("/worklist/stats", key="read")
    stats = reply.data
    assert stats["by_status"] == {"pending": 2, "in_progress": 1, "completed": 1, "cancelled": 0}
    assert stats["by_type"] == {"assembly": 1, "filament_change": 0, "collection": 0,
                                "maintenance": 2, "quality_check": 0}
    assert stats["overdue"] == 2
    assert stats["total_active"] == 3
    assert stats["total"] == 4


async def test_demo_tasks(api) -> None:
    tasks = (await api.get("/worklist", key="read")).data
    assert {"maintenance", "filament_change"} <= {t["task_type"] for t in tasks}
    assert tasks[0]["priority"] == "high"
    for task in tasks:
        assert "metadata" not in task
        assert "assigned_to" not in task


async def test_concurrent_starts_one_wins(api) -> None:
    import asyncio

    pid = await printer_id(api)
    task = await make_task(api, task_type="maintenance", printer_id=pid)
    replies = await asyncio.gather(*(
        api.post(f"/worklist/{task['id']}/start", key="write") for _ in range(6)
    ))
    assert sorted(r.status for r in replies) == [200] + [409] * 5
    assert (await printer(api, pid))["in_maintenance"] is True
