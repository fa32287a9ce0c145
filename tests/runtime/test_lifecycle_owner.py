"""The lifecycle component owns job and printer states: contradictions a user met, fixed."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from apf_core.drivers.base import Status
from apf_core.lifecycle import JOB_TRANSITIONS, JobStatus
from apf_core.lifecycle.facts import Report, apply_report
from apf_core.services.jobs import JobService
from apf_core.storage.tables.spine import events
from tests.runtime.conftest import Farm


async def _count(farm: Farm, event_type: str) -> int:
    async with farm.api.farm.db.read() as conn:
        n = await conn.scalar(select(func.count()).where(events.c.type == event_type))
    return int(n or 0)


async def _printing_with_a_queued_second(farm: Farm) -> tuple[str, str, str]:
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 6000})
    file_id = await farm.add_file()
    first = await farm.enqueue(file_id, printer_id=printer)
    second = await farm.enqueue(file_id, printer_id=printer)
    started = await farm.api.post(f"/jobs/{first['id']}/start", key="control")
    assert started.data["status"] == "printing", started.body
    return printer, first["id"], second["id"]


async def _assert_still_printing(farm: Farm, printer: str, job_id: str) -> None:
    await farm.api.farm.telemetry.settle()
    assert (await farm.printer(printer))["status"] == "printing"
    listed = (await farm.api.get("/printers", key="read")).data
    assert [p["status"] for p in listed if p["id"] == printer] == ["printing"]
    status = await farm.status(printer)
    assert status["current_job_id"] == job_id
    stats = (await farm.api.get("/printers/stats", key="read")).data
    assert stats["by_status"]["printing"] == 1
    assert (await farm.api.delete(f"/printers/{printer}", key="write")).code == "PRINTER_PRINTING"
    paused = await farm.control(printer, "pause")
    assert paused.status == 200, paused.body
    assert (await farm.job(job_id))["status"] == "paused"


async def test_completing_a_queued_job_leaves_the_busy_printer_alone(farm: Farm) -> None:
    printer, first, second = await _printing_with_a_queued_second(farm)
    done = await farm.api.post(f"/jobs/{second}/complete", json={}, key="write")
    assert done.status == 200 and done.data["status"] == "completed"
    assert (await farm.printer(printer))["awaiting_bed_clear"] is False
    await _assert_still_printing(farm, printer, first)


async def test_cancelling_a_queued_job_leaves_the_busy_printer_alone(farm: Farm) -> None:
    printer, first, second = await _printing_with_a_queued_second(farm)
    cancelled = await farm.api.post(f"/jobs/{second}/cancel", key="control")
    assert cancelled.status == 200 and cancelled.data["status"] == "cancelled"
    await _assert_still_printing(farm, printer, first)


async def test_a_printing_frame_before_the_ack_starts_the_job_once(farm: Farm) -> None:
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 6000})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    core = farm.api.farm
    async with core.db.begin() as conn:
        assert await core.lifecycle.move_job(conn, job["id"], JobStatus.PROCESSING)
    async with core.db.begin() as conn:  # the frame wins the race against the ACK
        found, _ = await apply_report(
            core.lifecycle, conn, Report(printer, Status.PRINTING, Status.IDLE)
        )
    assert found is not None and found["status"] == "printing"
    view = await JobService(core).mark_printing(job["id"])  # the late ACK
    assert view["status"] == "printing"
    assert await _count(farm, "job.started") == 1


async def test_racing_transitions_apply_once(farm: Farm) -> None:
    printer, first, _ = await _printing_with_a_queued_second(farm)
    core = farm.api.farm

    async def complete() -> Any:
        async with core.db.begin() as conn:
            return await core.lifecycle.move_job(
                conn, first, JobStatus.COMPLETED, expect=(JobStatus.PRINTING,)
            )

    results = await asyncio.gather(*(complete() for _ in range(5)))
    assert sum(r is not None for r in results) == 1
    assert await _count(farm, "job.completed") == 1
    assert (await farm.printer(printer))["awaiting_bed_clear"] is True


async def test_transitions_outside_the_table_are_refused(farm: Farm) -> None:
    _printer, first, second = await _printing_with_a_queued_second(farm)
    core = farm.api.farm
    async with core.db.begin() as conn:
        assert await core.lifecycle.move_job(conn, second, JobStatus.PAUSED) is None
        assert await core.lifecycle.move_job(conn, first, JobStatus.QUEUED) is None
    assert (await farm.job(second))["status"] == "queued"
    assert (JobStatus.COMPLETED, JobStatus.PRINTING) not in JOB_TRANSITIONS
    assert all(a not in (JobStatus.COMPLETED, JobStatus.CANCELLED) for a, _ in JOB_TRANSITIONS)


async def test_a_paused_job_shows_the_printers_progress(farm: Farm) -> None:
    # 5 s at the farm's 600x, so the pause lands mid-print on a busy CI too
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 3000})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    live = farm.api.farm.live
    await farm.wait_for(lambda: (live.get(printer).progress or 0) > 5, what="progress")
    assert (await farm.control(printer, "pause")).status == 200
    await farm.api.farm.telemetry.settle()
    await asyncio.sleep(0.3)
    await farm.api.farm.telemetry.settle()
    paused = await farm.job(job["id"])
    assert paused["status"] == "paused"
    assert paused["progress_percentage"] == live.get(printer).progress


async def test_one_status_change_costs_one_write_transaction(farm: Farm) -> None:
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 6000})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    core = farm.api.farm
    telemetry = core.telemetry
    await telemetry.settle()
    opened = 0
    begin = core.db.begin

    def counting() -> Any:
        nonlocal opened
        opened += 1
        return begin()

    core.db.begin = counting  # type: ignore[method-assign]
    try:
        tracker = telemetry._trackers[printer]
        from apf_core.telemetry import _Transition

        state = tracker.latest.evolve(status=Status.PAUSED)
        await telemetry._transition(tracker, _Transition(Status.PRINTING, state))
    finally:
        core.db.begin = begin  # type: ignore[method-assign]
    assert opened == 1


CONTRACT_FIELDS = {
    "print_started_at",
    "bed_clear_required",
    "error",
    "messages",
    "offline_reason",
    "trays",
    "target_chamber_temp",
    "speed_level",
    "speed_percent",
}


async def _views_agree(farm: Farm, printer: str) -> dict[str, Any]:
    from apf_core.lifecycle.status import STATUS_SCHEMA, coarse_status

    status = await farm.status(printer)
    STATUS_SCHEMA(status)  # the served object is what the model (and OpenAPI) says
    assert set(status) >= CONTRACT_FIELDS
    detail = await farm.printer(printer)
    listed = [p for p in (await farm.api.get("/printers", key="read")).data if p["id"] == printer]
    coarse = {"preparing": "printing", "pausing": "printing", "cancelling": "printing",
              "finished": "idle", "cancelled": "idle"}.get(status["status"], status["status"])
    assert detail["status"] == listed[0]["status"] == coarse, (status["status"], detail["status"])
    assert coarse_status(status["status"], None, False) in ("offline", "maintenance")
    stats = (await farm.api.get("/printers/stats", key="read")).data["by_status"]
    assert stats[coarse] == 1
    assert status["bed_clear_required"] is detail["awaiting_bed_clear"]
    return status


async def test_list_detail_and_status_agree_through_a_print(farm: Farm) -> None:
    # 3 s at the farm's 600x: the pause below must land before the print ends, on a busy CI too
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 1800})
    idle = await _views_agree(farm, printer)
    assert idle["status"] == "idle" and idle["print_started_at"] is None
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    printing = await _views_agree(farm, printer)
    assert printing["current_job_id"] == job["id"]
    assert printing["print_started_at"] == (await farm.job(job["id"]))["time_started"]
    await farm.control(printer, "pause")
    assert (await _views_agree(farm, printer))["status"] in ("paused", "pausing")
    await farm.control(printer, "resume")
    await farm.wait_job(job["id"], "completed")
    await farm.api.farm.telemetry.settle()
    done = await _views_agree(farm, printer)
    assert done["bed_clear_required"] is True and done["current_job_id"] is None


async def test_openapi_status_schema_lists_the_contract_fields(farm: Farm) -> None:
    spec = (await farm.api.get("/openapi.json", key="read")).body
    op = spec["paths"]["/public/v1/printers/{id}/status"]["get"]
    data = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]
    assert set(data["properties"]) >= CONTRACT_FIELDS


async def test_a_confirmed_bed_clear_makes_the_driver_forget_its_result(farm: Farm) -> None:
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 2})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    await farm.wait_job(job["id"], "completed")
    sim = farm.sim(printer)
    assert sim is not None and sim.state.status is Status.FINISHED  # the printer keeps its result
    cleared = await farm.control(printer, "clear_bed")
    assert cleared.status == 200, cleared.body
    assert sim.state.status is Status.IDLE  # clear_result ran on the driver
    await farm.api.farm.telemetry.settle()
    status = await farm.status(printer)
    assert status["status"] == "idle" and status["bed_clear_required"] is False
