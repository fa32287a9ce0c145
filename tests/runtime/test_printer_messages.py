"""Printer messages and offline reasons travel in events, not only in ``/status``."""

from __future__ import annotations

import asyncio
from typing import Any

from apf_core.drivers.base import PrinterMessage, Severity
from tests.runtime.conftest import Farm

RUNOUT = PrinterMessage(
    "0700_2000_0002_0001",
    Severity.SERIOUS,
    "AMS A Slot 1 filament has run out",
    "https://wiki.bambulab.com/en/x1/troubleshooting/hmscode/0700_2000_0002_0001",
)
RUNOUT_JSON = {
    "code": RUNOUT.code,
    "severity": "error",
    "text": RUNOUT.text,
    "url": RUNOUT.url,
}


async def events_of(farm: Farm, printer_id: str, pattern: str) -> list[dict[str, Any]]:
    reply = await farm.api.get(f"/events?after=0&type={pattern}&limit=1000", key="read")
    assert reply.status == 200, reply.body
    return [e for e in reply.data if e["data"].get("printer_id") == printer_id]


async def test_a_message_appearing_and_clearing_makes_status_events(farm: Farm) -> None:
    printer = await farm.add_printer("Rig")
    sim = farm.sim(printer)
    assert sim is not None

    async def status_event_with(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        found = await events_of(farm, printer, "printer.status")
        matching = [e for e in found if e["data"]["messages"] == messages]
        return matching[-1] if matching and found[-1] is matching[-1] else None

    sim.show_messages(RUNOUT)  # the status stays idle: only the message changes
    shown = await farm.wait_for(lambda: status_event_with([RUNOUT_JSON]), what="message event")
    assert shown["data"]["status"] == "idle"
    assert shown["data"]["offline_reason"] is None
    assert isinstance(shown["data"]["trays"], list)
    assert (await farm.status(printer))["messages"] == [RUNOUT_JSON]

    sim.show_messages()
    cleared = await farm.wait_for(lambda: status_event_with([]), what="cleared event")
    assert cleared["id"] > shown["id"] and cleared["data"]["status"] == "idle"
    # no printer.error: a message is a reason, not a state
    assert await events_of(farm, printer, "printer.error") == []


async def test_offline_event_says_why(farm: Farm) -> None:
    printer = await farm.add_printer("Rig")
    sim = farm.sim(printer)
    assert sim is not None
    sim.power_off()

    async def offline() -> list[dict[str, Any]]:
        return await events_of(farm, printer, "printer.offline")

    event = (await farm.wait_for(offline, what="printer.offline"))[-1]
    reason = "No answer: the simulated printer is switched off"
    assert event["data"]["offline_reason"] == reason
    assert event["data"]["status"] == "offline"

    async def offline_status() -> bool:
        found = await events_of(farm, printer, "printer.status")
        return bool(found) and found[-1]["data"]["offline_reason"] == reason

    await farm.wait_for(offline_status, what="printer.status with the offline reason")
    assert (await farm.status(printer))["offline_reason"] == reason
    sim.power_on()

    async def online_status() -> bool:
        found = await events_of(farm, printer, "printer.status")
        data = found[-1]["data"]
        return data["online"] is True and data["offline_reason"] is None

    await farm.wait_for(online_status, what="printer.status back online")


async def test_error_event_carries_the_messages(farm: Farm) -> None:
    printer = await farm.add_printer("Rig")
    sim = farm.sim(printer)
    assert sim is not None
    sim.show_messages(RUNOUT)
    sim.fail("Heatbed thermal runaway", code=0x0300_4000)

    async def errors() -> list[dict[str, Any]]:
        return await events_of(farm, printer, "printer.error")

    event = (await farm.wait_for(errors, what="printer.error"))[-1]
    assert event["data"]["error"] == "Heatbed thermal runaway"
    assert event["data"]["messages"] == [RUNOUT_JSON]


async def _printing_job(farm: Farm) -> tuple[str, str]:
    printer = await farm.add_printer("Rig", connection={"print_seconds": 60000})
    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    started = await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.data["status"] == "printing", started.body
    # a frame right after an API action is not mirrored (MIRROR_GRACE_SECONDS)
    await asyncio.sleep(3.2)
    return printer, str(job["id"])


async def test_a_runout_pause_event_carries_the_runout_message(farm: Farm) -> None:
    printer, job_id = await _printing_job(farm)
    sim = farm.sim(printer)
    assert sim is not None
    # the printer pauses itself and says why in the same report (as a Bambu HMS does)
    sim.show_messages(RUNOUT)
    await sim.pause()

    async def paused() -> list[dict[str, Any]]:
        return await events_of(farm, printer, "job.paused")

    event = (await farm.wait_for(paused, what="job.paused"))[-1]
    assert event["data"]["messages"] == [RUNOUT_JSON]
    assert event["data"]["status"] == "paused"
    assert event["data"]["printer_id"] == printer

    sim.show_messages()
    await asyncio.sleep(3.2)  # past the mirror grace of the pause
    await sim.resume()
    await farm.wait_job(job_id, "printing")
    # a pause asked through the API has no printer-side reason
    assert (await farm.control(printer, "pause")).status == 200
    again = await farm.wait_for(
        lambda: _paused_after(farm, printer, event["id"]), what="second job.paused"
    )
    assert again["data"]["messages"] == []


async def _paused_after(farm: Farm, printer: str, after: int) -> dict[str, Any] | None:
    later = [e for e in await events_of(farm, printer, "job.paused") if e["id"] > after]
    return later[-1] if later else None


async def test_a_failed_job_event_carries_the_printer_messages(farm: Farm) -> None:
    printer, _ = await _printing_job(farm)
    sim = farm.sim(printer)
    assert sim is not None
    sim.show_messages(RUNOUT)
    sim.fail("Heatbed thermal runaway", code=0x0300_4000)

    async def failed() -> list[dict[str, Any]]:
        return await events_of(farm, printer, "job.failed")

    event = (await farm.wait_for(failed, what="job.failed"))[-1]
    assert event["data"]["messages"] == [RUNOUT_JSON]
    assert "Heatbed thermal runaway" in event["data"]["failure_reason"]
