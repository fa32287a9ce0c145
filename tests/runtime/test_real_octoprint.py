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
