"""The simulated farm end to end through the HTTP API, driven by telemetry."""

from __future__ import annotations

from tests.runtime.conftest import Farm


async def test_enqueue_dispatch_pause_resume_finish_bed_clear_next(farm: Farm) -> None:
    printer = await farm.add_printer("Rig 1")
    file_id = await farm.add_file()
    first = await farm.enqueue(file_id)
    second = await farm.enqueue(file_id)
    await farm.set_dispatch(True)

    printing = await farm.wait_job(first["id"], "printing")
    assert printing["printer_id"] == printer
    assert printing["time_started"]
    status = await farm.status(printer)
    assert status["hub_online"] is True
    assert status["current_job_id"] == first["id"]
    assert status["nozzle_temp"] is not None
    assert status["last_telemetry_at"]
    assert (await farm.job(second["id"]))["status"] == "queued"  # one printer, one job

    paused = await farm.control(printer, "pause")
    assert paused.data["status"] == "paused"
    assert paused.data["command_id"]
    assert (await farm.job(first["id"]))["status"] == "paused"
    assert (await farm.control(printer, "pause")).code == "INVALID_STATE"
    assert (await farm.control(printer, "resume")).data["status"] == "printing"

    done = await farm.wait_job(first["id"], "completed")
    assert done["progress_percentage"] == 100.0
    assert done["time_completed"]
    row = await farm.printer(printer)
    assert row["awaiting_bed_clear"] is True
    assert row["status"] == "idle"
    # the gate holds: the second job waits until the bed is cleared
    await farm.api.farm.dispatcher.run_pass()
    assert (await farm.job(second["id"]))["status"] == "queued"
    eligibility = (await farm.api.get(f"/jobs/{second['id']}/eligibility", key="read")).data
    reasons = {r["code"] for r in eligibility["printers"][0]["reasons"]}
    assert reasons == {"AWAITING_BED_CLEAR"}

    cleared = await farm.control(printer, "clear_bed", result="success")
    assert cleared.data["status"] == "idle"
    assert cleared.data["requeued_job_id"] is None
    await farm.wait_job(second["id"], "printing")
    await farm.wait_job(second["id"], "completed")
    events = [e["type"] for e in await _events(farm)]
    for expected in (
        "job.started",
        "job.paused",
        "job.resumed",
        "job.completed",
        "printer.bed_clear_required",
        "printer.bed_cleared",
        "printer.online",
    ):
        assert expected in events, expected


async def test_failed_bed_clear_requeues(farm: Farm) -> None:
    printer = await farm.add_printer("Rig 1")
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    assert (await farm.api.post(f"/jobs/{job['id']}/start", key="control")).data[
        "status"
    ] == "printing"
    await farm.wait_job(job["id"], "completed")
    reply = await farm.control(printer, "clear_bed", result="failed")
    requeued = reply.data["requeued_job_id"]
    assert requeued
    assert (await farm.job(requeued))["status"] == "queued"
    assert (await farm.control(printer, "clear_bed")).code == "INVALID_STATE"


async def test_printer_error_fails_the_job_with_reason(farm: Farm) -> None:
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 6000})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    await farm.wait_for(
        lambda: farm.api.farm.live.get(printer).status == "printing", what="printing"
    )
    sim = farm.sim(printer)
    assert sim is not None
    sim.fail("Thermal runaway", code=42)
    failed = await farm.wait_job(job["id"], "failed")
    assert failed["failure_reason"] == "Thermal runaway (code 42)"
    assert (await farm.printer(printer))["status"] == "error"
    assert "printer.error" in [e["type"] for e in await _events(farm)]


async def test_cancel_at_the_printer_fails_the_job(farm: Farm) -> None:
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 6000})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    sim = farm.sim(printer)
    assert sim is not None
    await sim.stop()  # someone pressed stop on the printer's screen
    failed = await farm.wait_job(job["id"], "failed")
    assert failed["failure_reason"] == "Cancelled at the printer"


async def test_stop_through_the_api_cancels(farm: Farm) -> None:
    printer = await farm.add_printer("Rig 1", connection={"print_seconds": 6000})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    stopped = await farm.control(printer, "stop")
    assert stopped.data["status"] == "idle"
    assert (await farm.job(job["id"]))["status"] == "cancelled"
    await farm.wait_for(
        lambda: farm.api.farm.live.get(printer).status == "cancelled", what="cancel"
    )
    await farm.api.farm.telemetry.settle()
    assert (await farm.job(job["id"]))["status"] == "cancelled"  # telemetry did not re-fail it


async def _events(farm: Farm) -> list[dict]:  # type: ignore[type-arg]
    from sqlalchemy import select

    from apf_core.storage.tables.spine import events

    async with farm.api.farm.db.read() as conn:
        rows = (
            await conn.execute(select(events.c.type, events.c.payload).order_by(events.c.id))
        ).all()
    return [{"type": r.type, "data": r.payload} for r in rows]
