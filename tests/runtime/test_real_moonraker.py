"""The farm drives a real Moonraker + Klippy through the public API, and survives
losing it mid-print (Moonraker stopped and restarted while Klippy keeps printing).

Needs the peer (scripts/peers/moonraker.sh); skipped otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.drivers._moonraker_peer import (
    LIGHT_PIN,
    MoonrakerPeer,
    allow_sockets,
    big_gcode,
    missing_reason,
)
from tests.runtime.conftest import Farm


@pytest.fixture(scope="module")
def moonraker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoonrakerPeer]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    allow_sockets()
    peer = MoonrakerPeer(tmp_path_factory.mktemp("moonraker-e2e"))
    try:
        peer.start()
        yield peer
    finally:
        peer.stop()


async def test_moonraker_print_survives_losing_the_printer(
    farm: Farm, moonraker: MoonrakerPeer
) -> None:
    api = farm.api
    connection = {
        "url": moonraker.url,
        "api_key": moonraker.api_key,
        "light_pin": LIGHT_PIN,
        "backoff_initial": 0.2,
        "backoff_max": 1.0,
        "command_timeout": 60,
    }
    reply = await api.post(
        "/printers",
        json={
            "name": "Klipper",
            "protocol": "moonraker",
            "model": "Klipper",
            "connection": connection,
        },
        key="write",
    )
    assert reply.status == 201, reply.body
    printer = reply.data["id"]
    await farm.wait_for(lambda: farm.online(printer), timeout=60, what="Moonraker online")
    file_id = await farm.add_file("big.gcode", nozzle=None, content=big_gcode(lines=40_000))
    job = await farm.enqueue(file_id, printer_id=printer)
    started = await api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.status == 200, started.body
    api.farm.settings.command_timeout_seconds = 30

    async def progressing() -> bool:
        live = api.farm.live.get(printer)
        return live is not None and live.status == "printing" and (live.progress or 0) > 1

    await farm.wait_for(progressing, timeout=60, what="printing")
    assert (await farm.control(printer, "pause")).status == 200
    await farm.wait_for(
        lambda: api.farm.live.get(printer).status == "paused", timeout=30, what="paused"
    )
    assert (await farm.control(printer, "resume")).status == 200
    await farm.wait_for(progressing, timeout=30, what="printing again")

    await asyncio.to_thread(moonraker.stop_moonraker)  # the network goes away
    await farm.wait_for(lambda: not farm.online(printer), timeout=30, what="offline")
    assert (await farm.status(printer))["hub_online"] is False
    assert (await farm.job(job["id"]))["status"] == "printing"
    await asyncio.sleep(1)
    await asyncio.to_thread(moonraker.start_moonraker)
    await farm.wait_for(lambda: farm.online(printer), timeout=60, what="back online")
    done = await farm.wait_job(job["id"], "completed", timeout=120)
    assert done["failure_reason"] is None
    assert (await farm.printer(printer))["awaiting_bed_clear"] is True


async def test_moonraker_stop_bed_clear_heater_and_views_agree(
    farm: Farm, moonraker: MoonrakerPeer
) -> None:
    """Stop through the API: Klippy cancels, the job is cancelled, the bed clear makes every
    view idle; a heater target set through the API is Klippy's target."""
    api = farm.api
    connection = {"url": moonraker.url, "api_key": moonraker.api_key, "light_pin": LIGHT_PIN}
    reply = await api.post(
        "/printers",
        json={
            "name": "Klipper 2",
            "protocol": "moonraker",
            "model": "Klipper",
            "connection": connection,
        },
        key="write",
    )
    assert reply.status == 201, reply.body
    printer = reply.data["id"]
    await farm.wait_for(lambda: farm.online(printer), timeout=60, what="Moonraker online")
    file_id = await farm.add_file("stop.gcode", nozzle=None, content=big_gcode(lines=40_000))
    job = await farm.enqueue(file_id, printer_id=printer)
    api.farm.settings.command_timeout_seconds = 30
    started = await api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.status == 200, started.body
    await farm.wait_for(
        lambda: api.farm.live.get(printer).status == "printing", timeout=60, what="printing"
    )
    assert (await farm.control(printer, "stop")).status == 200
    assert (await farm.job(job["id"]))["status"] == "cancelled"

    def klippy_state() -> str:
        return str(moonraker.query("print_stats")["print_stats"]["state"])

    await farm.wait_for(lambda: klippy_state() == "cancelled", timeout=30, what="Klippy cancelled")
    assert (await farm.printer(printer))["awaiting_bed_clear"] is True
    assert (await farm.control(printer, "clear_bed")).data["status"] == "idle"

    async def views() -> dict[str, object]:
        await api.farm.telemetry.settle()
        listed = (await api.get("/printers", key="read")).data
        return {
            "live": api.farm.live.get(printer).status,
            "status": (await farm.status(printer))["status"],
            "detail": (await farm.printer(printer))["status"],
            "list": next(p["status"] for p in listed if p["id"] == printer),
        }

    idle = dict.fromkeys(("live", "status", "detail", "list"), "idle")
    seen: list[dict[str, object]] = []

    async def agree() -> bool:
        seen.append(await views())
        return seen[-1] == idle

    try:
        await farm.wait_for(agree, timeout=10, what="every view idle")
    except AssertionError as err:
        raise AssertionError(f"views never agreed: last {seen[-1]}") from err

    heat = await api.post(
        f"/printers/{printer}/temperature", json={"heater": "bed", "target": 60}, key="control"
    )
    assert heat.status == 200, heat.body

    def bed_target() -> float:
        return float(moonraker.query("heater_bed")["heater_bed"]["target"])

    await farm.wait_for(lambda: bed_target() == 60, timeout=10, what="Klippy's bed target 60")
    await farm.wait_for(
        lambda: api.farm.live.get(printer).target_bed_temp == 60, timeout=10, what="target seen"
    )
    cool = await api.post(
        f"/printers/{printer}/temperature", json={"heater": "bed", "target": 0}, key="control"
    )
    assert cool.status == 200, cool.body
    await farm.wait_for(lambda: bed_target() == 0, timeout=10, what="Klippy's bed target 0")
