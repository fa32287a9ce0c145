"""Faults: a printer that goes away mid-print, commands that time out, offline control."""

from __future__ import annotations

import asyncio

import pytest

from tests.runtime.conftest import Farm

SLOW = {"print_seconds": 3000}  # about five wall seconds at test speed


async def _printing(farm: Farm, **connection: object) -> tuple[str, dict]:  # type: ignore[type-arg]
    printer = await farm.add_printer("Rig", connection={**SLOW, **connection})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    started = await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.data["status"] == "printing"
    return printer, job


async def test_printer_offline_mid_print_keeps_tracking(farm: Farm) -> None:
    printer, job = await _printing(farm)
    sim = farm.sim(printer)
    assert sim is not None
    sim.power_off()  # the network goes away; the machine keeps printing
    await farm.wait_for(lambda: not farm.online(printer), what="offline")
    await farm.api.farm.telemetry.settle()
    status = await farm.status(printer)
    assert status["hub_online"] is False
    assert status["status"] == "offline"
    assert status["nozzle_temp"] is None
    assert status["progress"] is None
    assert status["last_telemetry_at"] is not None
    assert (await farm.printer(printer))["status"] == "offline"
    assert (await farm.job(job["id"]))["status"] == "printing"  # not failed
    assert (await farm.control(printer, "pause")).code in ("INVALID_STATE", "HUB_OFFLINE")
    await asyncio.sleep(1.0)
    sim.power_on()
    await farm.wait_for(lambda: farm.online(printer), what="online again")
    status = await farm.status(printer)
    assert status["hub_online"] is True
    assert status["progress"] is not None
    assert status["current_job_id"] == job["id"]

    async def progress_written() -> bool:
        return bool((await farm.job(job["id"]))["progress_percentage"])

    await farm.wait_for(progress_written, what="job progress persisted")
    done = await farm.wait_job(job["id"], "completed", timeout=20)
    assert done["failure_reason"] is None
    types = [e.type for e in await _event_types(farm)]
    assert "printer.offline" in types
    assert types.count("printer.online") >= 2


async def test_power_cut_loses_the_print_and_fails_the_job(farm: Farm) -> None:
    printer, job = await _printing(farm)
    sim = farm.sim(printer)
    assert sim is not None
    await farm.api.farm.telemetry.settle()
    from apf_core import telemetry

    telemetry.IDLE_GRACE_SECONDS = 0.0
    try:
        sim.power_off(lose_job=True)
        await farm.wait_for(lambda: not farm.online(printer), what="offline")
        sim.power_on()
        failed = await farm.wait_job(job["id"], "failed")
    finally:
        telemetry.IDLE_GRACE_SECONDS = 15.0
    assert "without the print" in failed["failure_reason"]


async def test_start_that_times_out_reverts_to_queued(farm: Farm) -> None:
    printer = await farm.add_printer("Rig")
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    sim = farm.sim(printer)
    assert sim is not None
    sim.hang_commands(True)
    reply = await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    assert reply.status == 503
    assert reply.code == "HUB_COMMAND_FAILED"
    after = await farm.job(job["id"])
    assert after["status"] == "queued"
    assert after["time_started"] is None
    sim.hang_commands(False)
    assert (await farm.api.post(f"/jobs/{job['id']}/start", key="control")).data[
        "status"
    ] == "printing"


async def test_pause_that_times_out_reverts(farm: Farm) -> None:
    printer, job = await _printing(farm)
    sim = farm.sim(printer)
    assert sim is not None
    sim.hang_commands(True)
    reply = await farm.control(printer, "pause")
    assert reply.status == 503
    assert reply.code == "HUB_COMMAND_FAILED"
    assert "acknowledge" in reply.body["error"]
    assert (await farm.job(job["id"]))["status"] == "printing"
    sim.hang_commands(False)


async def test_start_on_powered_off_printer(farm: Farm) -> None:
    printer = await farm.add_printer("Rig")
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    sim = farm.sim(printer)
    assert sim is not None
    sim.power_off()
    await farm.wait_for(lambda: not farm.online(printer), what="offline")
    reply = await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    assert reply.status == 503
    assert reply.code == "HUB_OFFLINE"
    assert (await farm.job(job["id"]))["status"] == "queued"


async def test_hardware_commands(farm: Farm) -> None:
    printer = await farm.add_printer("Rig", connection={"has_light": True})
    dark = await farm.add_printer("Dark", connection={"has_light": False})
    api = farm.api
    light = await api.post(f"/printers/{printer}/light", json={"state": "on"}, key="control")
    assert light.data["state"] is True
    assert light.data["command_id"]
    await farm.wait_for(lambda: api.farm.live.get(printer).light_on is True, what="light on")
    missing = await api.post(f"/printers/{dark}/light", json={"state": True}, key="control")
    assert missing.status == 400
    assert missing.code == "CAPABILITY_NOT_SUPPORTED"
    assert "light" in missing.body["error"]
    temp = await api.post(
        f"/printers/{printer}/temperature", json={"heater": "bed", "target": 55}, key="control"
    )
    assert temp.data["target"] == 55
    await farm.wait_for(lambda: api.farm.live.get(printer).target_bed_temp == 55, what="bed target")
    chamber = await api.post(
        f"/printers/{printer}/temperature", json={"heater": "chamber", "target": 40}, key="control"
    )
    assert chamber.code == "CAPABILITY_NOT_SUPPORTED"
    load = await api.post(f"/printers/{printer}/filament/load", json={}, key="control")
    assert load.data["tray_id"] == 254
    assert load.data["command_id"]
    ams = await api.post(f"/printers/{printer}/filament/load", json={"tray_id": 2}, key="control")
    assert ams.code == "INVALID_TRAY"
    assert (
        await api.post(f"/printers/{printer}/filament/unload", json={}, key="control")
    ).status == 200
    await farm.wait_for(lambda: api.farm.live.get(printer).trays, what="trays")


async def test_ams_tray_load_sets_current_filament(farm: Farm) -> None:
    printer = await farm.add_printer("AMS", has_ams=True, connection={"has_ams": True})
    api = farm.api
    reply = await api.post(
        f"/printers/{printer}/filament/load", json={"tray_id": 2, "temperature": 240}, key="control"
    )
    assert reply.status == 200, reply.body

    async def petg() -> bool:
        return bool((await farm.printer(printer))["current_filament_type"] == "PETG")

    await farm.wait_for(petg, what="PETG loaded")
    assert (await farm.printer(printer))["current_color_hex"] == "#FF0000"
    # the printer reports its trays: one it does not have is refused before any command
    empty = await api.post(f"/printers/{printer}/filament/load", json={"tray_id": 9}, key="control")
    assert empty.status == 400
    assert empty.code == "INVALID_TRAY"
    assert "it has trays 0, 1, 2, 3" in empty.body["message"]


async def test_maintenance_blocks_and_restores(farm: Farm) -> None:
    printer = await farm.add_printer("Rig")
    reply = await farm.api.put(
        f"/printers/{printer}/maintenance",
        json={"in_maintenance": True, "maintenance_type": "nozzle"},
        key="write",
    )
    assert reply.data["status"] == "maintenance"
    assert (await farm.status(printer))["status"] == "maintenance"
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    assert (
        await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    ).code == "PRINTER_UNAVAILABLE"
    back = await farm.api.put(
        f"/printers/{printer}/maintenance", json={"in_maintenance": False}, key="write"
    )
    assert back.data["status"] == "idle"
    assert back.data["last_maintenance_date"]


async def test_printer_deleted_and_deactivated_detach(farm: Farm) -> None:
    printer = await farm.add_printer("Rig")
    await farm.api.patch(f"/printers/{printer}", json={"is_active": False}, key="write")
    await farm.wait_for(lambda: farm.sim(printer) is None, what="detached")
    assert (await farm.status(printer))["hub_online"] is False
    await farm.api.patch(f"/printers/{printer}", json={"is_active": True}, key="write")
    await farm.wait_for(lambda: farm.online(printer), what="attached again")
    old = farm.sim(printer)
    await farm.api.patch(f"/printers/{printer}", json={"connection": {"speed": 900}}, key="write")
    await farm.wait_for(
        lambda: farm.sim(printer) is not None and farm.sim(printer) is not old,
        what="reconnected with the new connection",
    )
    assert (await farm.api.delete(f"/printers/{printer}", key="write")).status == 200
    await farm.wait_for(lambda: farm.sim(printer) is None, what="removed")


async def _event_types(farm: Farm) -> list:  # type: ignore[type-arg]
    from sqlalchemy import select

    from apf_core.storage.tables.spine import events

    async with farm.api.farm.db.read() as conn:
        return list((await conn.execute(select(events.c.type).order_by(events.c.id))).all())


async def test_unreachable_printer_is_offline_from_the_first_frame(farm: Farm) -> None:
    from sqlalchemy import update

    from apf_core.drivers.base import PrinterState
    from apf_core.storage.tables.spine import printers
    from tests.runtime.broker import free_port

    api = farm.api
    body = {
        "name": "Gone",
        "protocol": "octoprint",
        "connection": {"url": f"http://127.0.0.1:{free_port()}", "api_key": "k", "timeout": 0.5},
    }
    printer = (await api.post("/printers", json=body, key="write")).data["id"]
    telemetry = api.farm.telemetry
    await farm.wait_for(lambda: api.farm.live.get(printer) is not None, what="first frame")
    status = await farm.status(printer)
    assert status["hub_online"] is False
    assert status["nozzle_temp"] is None
    # after a restart the first frame is persisted even when it says "offline"
    async with api.farm.db.begin() as conn:
        await conn.execute(update(printers).where(printers.c.id == printer).values(status="idle"))
    telemetry._trackers.pop(printer).task.cancel()
    telemetry.on_state(printer, PrinterState())
    await telemetry.settle()
    assert (await farm.printer(printer))["status"] == "offline"
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    assert (await api.post(f"/jobs/{job['id']}/start", key="control")).code == "HUB_OFFLINE"


async def test_start_the_printer_acknowledges_but_never_begins_fails_and_frees_it(
    farm: Farm,
) -> None:
    """A printer that ACKs a start and stays idle: the job fails with START_TIMEOUT after
    the configured time, the printer is free (no bed to clear) and the next job prints."""
    printer = await farm.add_printer("Rig", connection=SLOW)
    sim = farm.sim(printer)
    assert sim is not None
    farm.api.farm.settings.start_timeout_seconds = 1.5
    sim.drop_starts(True)
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    started = await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.status == 200 and started.data["status"] == "printing"
    failed = await farm.wait_job(job["id"], "failed", timeout=15)
    assert failed["failure_reason"].startswith("START_TIMEOUT")
    assert failed["time_started"] is None
    detail = await farm.printer(printer)
    assert detail["status"] == "idle"
    assert detail["awaiting_bed_clear"] is False
    assert (await farm.status(printer))["current_job_id"] is None

    sim.drop_starts(False)
    second = await farm.enqueue(await farm.add_file(), printer_id=printer)
    again = await farm.api.post(f"/jobs/{second['id']}/start", key="control")
    assert again.status == 200, again.body
    await asyncio.sleep(3.0)  # well past the start timeout: a print that began is kept
    assert (await farm.job(second["id"]))["status"] == "printing"


async def test_a_print_that_goes_idle_without_a_result_fails_after_the_grace(
    farm: Farm,
) -> None:
    """The printer began, then dropped to idle soon after the start (no FINISHED, no
    error): the job does not stay printing for ever."""
    from apf_core import telemetry

    printer, job = await _printing(farm)
    sim = farm.sim(printer)
    assert sim is not None
    farm.api.farm.settings.start_timeout_seconds = 1.0
    await farm.wait_for(
        lambda: farm.api.farm.live.get(printer).status == "printing", what="printing"
    )
    sim.power_off(lose_job=True)  # the print is gone; the printer answers idle at once
    sim.power_on()
    await farm.api.farm.telemetry.settle()
    # the IDLE frame came within the grace: telemetry alone would leave the job printing
    assert (await farm.job(job["id"]))["status"] == "printing"
    telemetry.IDLE_GRACE_SECONDS = 1.0
    try:
        failed = await farm.wait_job(job["id"], "failed", timeout=15)
    finally:
        telemetry.IDLE_GRACE_SECONDS = 15.0
    assert not failed["failure_reason"].startswith("START_TIMEOUT")
    assert (await farm.printer(printer))["awaiting_bed_clear"] is True


async def test_a_pause_at_the_printer_right_after_an_api_action_is_not_lost(
    farm: Farm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runout pause inside the mirror grace of the start is passed over by telemetry
    (the frame may be stale) and no later frame changes the status; the watch moves the
    job once it has settled, with the printer's reason, and a resume at the printer the
    same way."""
    from apf_core import idle_watch
    from apf_core.drivers.base import PrinterMessage, Severity

    monkeypatch.setattr(idle_watch, "SETTLED_SECONDS", 1.0)
    printer = await farm.add_printer("Rig", connection={"print_seconds": 60000})
    farm.api.farm.settings.start_timeout_seconds = 1.0  # the watch looks every 0.25 s
    sim = farm.sim(printer)
    assert sim is not None
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    started = await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.status == 200 and started.data["status"] == "printing"
    runout = PrinterMessage("0700_2000_0002_0001", Severity.SERIOUS, "Filament has run out")
    sim.show_messages(runout)
    await sim.pause()
    await farm.api.farm.telemetry.settle()
    assert (await farm.job(job["id"]))["status"] == "printing"  # within the grace
    paused = await farm.wait_job(job["id"], "paused", timeout=10)
    assert paused["printer_id"] == printer
    assert (await farm.printer(printer))["status"] == "paused"

    # the reverse: resumed at the printer right after the job moved (inside its grace)
    sim.show_messages()
    await sim.resume()
    await farm.wait_job(job["id"], "printing", timeout=10)
    assert (await farm.printer(printer))["status"] == "printing"
