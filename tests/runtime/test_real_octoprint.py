"""The farm drives a real OctoPrint (Virtual Printer) through the public API.

Needs the peer venv (scripts/peers/octoprint.sh); skipped otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.drivers._octoprint_peer import SETUP_HINT, OctoPrintPeer, peer_available
from tests.runtime.conftest import Farm


def gcode(moves: int) -> str:
    """About 75 ms a line on the Virtual Printer."""
    lines = ["M104 S0", "G28"]
    for index in range(moves):
        if index % 20 == 0:
            lines.append(";LAYER_CHANGE")
        lines.append(f"G1 X{index % 100} Y{(index * 7) % 100} F3000")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def octoprint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintPeer]:
    if not peer_available():
        pytest.skip(SETUP_HINT)
    peer = OctoPrintPeer(tmp_path_factory.mktemp("octoprint-e2e"))
    peer.start()
    yield peer
    peer.stop()


async def test_octoprint_dispatch_pause_resume_finish_bed_clear(
    farm: Farm, octoprint: OctoPrintPeer
) -> None:
    api = farm.api
    reply = await api.post(
        "/printers",
        json={
            "name": "OctoPrint VP",
            "protocol": "octoprint",
            "model": "Virtual",
            "connection": {
                "url": octoprint.url,
                "api_key": octoprint.api_key,
                "poll_interval": 0.5,
            },
        },
        key="write",
    )
    assert reply.status == 201, reply.body
    printer = reply.data["id"]
    await farm.wait_for(lambda: farm.online(printer), timeout=30, what="OctoPrint online")
    file_id = await farm.add_file("vp.gcode", nozzle=None, content=gcode(150))
    job = await farm.enqueue(file_id)
    await farm.set_dispatch(True)
    started = await farm.wait_job(job["id"], "printing", timeout=30)
    assert started["printer_id"] == printer

    async def live_printing() -> bool:
        live = api.farm.live.get(printer)
        return live is not None and live.status == "printing" and bool(live.progress)

    await farm.wait_for(live_printing, timeout=30, what="OctoPrint printing")
    paused = await farm.control(printer, "pause")
    assert paused.status == 200, paused.body
    assert (await farm.job(job["id"]))["status"] == "paused"
    await farm.wait_for(
        lambda: api.farm.live.get(printer).status == "paused", timeout=30, what="paused"
    )
    assert (await farm.control(printer, "resume")).status == 200
    done = await farm.wait_job(job["id"], "completed", timeout=60)
    assert done["progress_percentage"] == 100.0
    assert (await farm.printer(printer))["awaiting_bed_clear"] is True
    assert (await farm.control(printer, "clear_bed")).data["status"] == "idle"


async def _views(farm: Farm, printer: str) -> dict[str, object]:
    """What every view says about the printer."""
    await farm.api.farm.telemetry.settle()
    listed = (await farm.api.get("/printers", key="read")).data
    return {
        "live": farm.api.farm.live.get(printer).status,
        "status": (await farm.status(printer))["status"],
        "detail": (await farm.printer(printer))["status"],
        "list": next(p["status"] for p in listed if p["id"] == printer),
    }


async def _settle_on(farm: Farm, printer: str, status: str, timeout: float = 10.0) -> None:
    """Every view of the printer comes to say ``status`` (the driver polls OctoPrint)."""
    agreed = dict.fromkeys(("live", "status", "detail", "list"), status)
    seen: list[dict[str, object]] = []

    async def agree() -> bool:
        seen.append(await _views(farm, printer))
        return seen[-1] == agreed

    try:
        await farm.wait_for(agree, timeout=timeout, what=f"every view {status}")
    except AssertionError as err:
        raise AssertionError(f"views never agreed on {status}: last {seen[-1]}") from err


async def test_octoprint_stop_heater_restart_and_views_agree(
    farm: Farm, octoprint: OctoPrintPeer
) -> None:
    """Stop, a heater target, an OctoPrint restart: after each, OctoPrint, the job and
    every view of the printer say the same thing."""
    api = farm.api
    connection = {"url": octoprint.url, "api_key": octoprint.api_key, "poll_interval": 0.5}
    reply = await api.post(
        "/printers",
        json={
            "name": "OctoPrint VP 2",
            "protocol": "octoprint",
            "model": "Virtual",
            "connection": connection,
        },
        key="write",
    )
    assert reply.status == 201, reply.body
    printer = reply.data["id"]
    await farm.wait_for(lambda: farm.online(printer), timeout=30, what="OctoPrint online")

    async def temperatures() -> bool:
        return (await farm.status(printer))["nozzle_temp"] is not None

    await farm.wait_for(temperatures, timeout=10, what="temperatures after connecting")

    file_id = await farm.add_file("stop.gcode", nozzle=None, content=gcode(400))
    job = await farm.enqueue(file_id, printer_id=printer)
    started = await api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.status == 200, started.body
    await farm.wait_for(
        lambda: api.farm.live.get(printer).status == "printing", timeout=30, what="printing"
    )
    api.farm.settings.command_timeout_seconds = 10
    stopped = await farm.control(printer, "stop")
    assert stopped.status == 200, stopped.body
    assert (await farm.job(job["id"]))["status"] == "cancelled"

    def octoprint_state() -> str:
        return str(octoprint.get("/api/job")["state"])

    await farm.wait_for(
        lambda: octoprint_state() == "Operational", timeout=30, what="OctoPrint stopped"
    )
    assert (await farm.printer(printer))["awaiting_bed_clear"] is True
    assert (await farm.control(printer, "clear_bed")).data["status"] == "idle"
    await _settle_on(farm, printer, "idle")

    heat = await api.post(
        f"/printers/{printer}/temperature", json={"heater": "bed", "target": 55}, key="control"
    )
    assert heat.status == 200, heat.body

    def bed_target() -> float:
        bed = octoprint.get("/api/printer")["temperature"]["bed"]  # type: ignore[index]
        return float(bed["target"] or 0)  # type: ignore[index]

    await farm.wait_for(lambda: bed_target() == 55, timeout=10, what="OctoPrint's bed target 55")
    await farm.wait_for(
        lambda: api.farm.live.get(printer).target_bed_temp == 55, timeout=10, what="bed target seen"
    )
    cool = await api.post(
        f"/printers/{printer}/temperature", json={"heater": "bed", "target": 0}, key="control"
    )
    assert cool.status == 200, cool.body
    await farm.wait_for(lambda: bed_target() == 0, timeout=10, what="OctoPrint's bed target 0")

    octoprint.stop()  # OctoPrint restarts: the printer is offline, then idle again
    await farm.wait_for(lambda: not farm.online(printer), timeout=30, what="offline")
    octoprint.start()
    await farm.wait_for(lambda: farm.online(printer), timeout=60, what="back online")
    await _settle_on(farm, printer, "idle")
    assert (await farm.printer(printer))["awaiting_bed_clear"] is False
