"""Per-job Bambu start through the job queue: the fake Bambu printer (mosquitto + FTPS).

A job's ``start_options`` (plate, AMS use, tray mapping) reach the printer's
``project_file``; what the job leaves out comes from the file and the loaded trays; a job
whose filaments no tray of a printer holds goes to another printer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from apf_core.storage.tables.dispatch import dispatch_attempts
from apf_core.storage.tables.spine import print_files
from tests.drivers._bambu_peer import ACCESS_CODE, BambuPeer, make_project, missing_reason
from tests.runtime.conftest import Farm

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[BambuPeer]:
    fake = BambuPeer.start(tmp_path / "bambu")
    try:
        yield fake
    finally:
        fake.stop()


async def add_bambu(farm: Farm, peer: BambuPeer, name: str = "A P1S") -> str:
    reply = await farm.api.post(
        "/printers",
        json={
            "name": name,
            "protocol": "bambu",
            "model": "P1S",
            "nozzle_size": 0.4,
            "has_ams": True,
            "connection": {
                "host": "127.0.0.1",
                "serial": peer.printer.serial,
                "access_code": ACCESS_CODE,
                "port": peer.broker.port,
                "ftp_port": peer.ftps.port,
                "command_timeout": 5,
            },
        },
        key="write",
    )
    assert reply.status == 201, reply.body
    printer = str(reply.data["id"])

    def ready() -> bool:
        live = farm.api.farm.live.get(printer)
        return farm.online(printer) and live is not None and len(live.trays) >= 3

    await farm.wait_for(ready, timeout=20, what="Bambu online with its trays")
    return printer


async def add_project(farm: Farm, name: str, **project: Any) -> str:
    """A sliced 3MF stored as a file of the farm."""
    file_id = await farm.add_file(name, nozzle=None, filament="PLA", content="placeholder")
    async with farm.api.farm.db.read() as conn:
        key = await conn.scalar(select(print_files.c.storage_key).where(print_files.c.id == file_id))
    make_project(farm.api.farm.settings.files_dir / key, **project)
    return file_id


def project_file(peer: BambuPeer) -> dict[str, Any]:
    for request in reversed(peer.printer.requests):
        body = request.get("print")
        if isinstance(body, dict) and body.get("command") == "project_file":
            return body
    raise AssertionError("the printer never received project_file")


async def test_job_start_options_reach_the_printer(farm: Farm, peer: BambuPeer) -> None:
    printer = await add_bambu(farm, peer)
    two_plates = {"filaments": ((1, "PETG", "#00FF00"), (2, "PLA", "#FF0000")), "plates": (1, 2)}
    file_id = await add_project(farm, "two.gcode.3mf", **two_plates)

    refused = await farm.api.post(
        "/jobs",
        json={"print_file_id": file_id, "start_options": {"plate": 3}},
        key="write",
    )
    assert refused.status == 400 and refused.code == "INVALID_PLATE"
    assert "sliced: 1, 2" in refused.body["error"]

    job = await farm.enqueue(
        file_id,
        printer_id=printer,
        start_options={"plate": 2, "use_ams": True, "ams_mapping": [2, 0]},
    )
    assert job["start_options"] == {"plate": 2, "use_ams": True, "ams_mapping": [2, 0]}
    started = await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.status == 200, started.body
    request = project_file(peer)
    assert request["param"] == "Metadata/plate_2.gcode"
    assert request["use_ams"] is True
    assert request["ams_mapping"] == [2, 0]  # the job's mapping, not the derived [1, 0]
    assert (peer.ftps.root / "two.gcode.3mf").is_file()


async def test_derived_start_and_a_printer_that_cannot_supply_the_filaments(
    farm: Farm, peer: BambuPeer
) -> None:
    bambu = await add_bambu(farm, peer)
    # PLA red is loaded on the Bambu (tray 0); ABS is not: the Bambu refuses before uploading
    abs_file = await add_project(
        farm, "abs.gcode.3mf", filaments=((1, "PLA", "#FF0000"), (2, "ABS", "#000000"))
    )
    sim = await farm.add_printer("B sim", current_filament_type="PLA", model="P1S")
    job = await farm.enqueue(abs_file, filament_type="PLA")
    await farm.set_dispatch(True)
    started = await farm.wait_job(job["id"], "printing", timeout=30)
    assert started["printer_id"] == sim
    async with farm.api.farm.db.read() as conn:
        attempts = (
            await conn.execute(
                select(dispatch_attempts.c.printer_id, dispatch_attempts.c.error_code).where(
                    dispatch_attempts.c.job_id == job["id"]
                )
            )
        ).all()
    assert (bambu, "AMS_MAPPING_UNSATISFIABLE") in [tuple(a) for a in attempts]
    assert not (peer.ftps.root / "abs.gcode.3mf").exists()  # refused before the upload

    # a file the Bambu can print: plate and mapping derived from the file and the trays
    pla_file = await add_project(
        farm, "pla.gcode.3mf", filaments=((1, "PLA", "#FF0000"),), plates=(4,)
    )
    second = await farm.enqueue(pla_file, filament_type="PLA")
    assert (await farm.wait_job(second["id"], "printing", timeout=30))["printer_id"] == bambu
    request = project_file(peer)
    assert request["param"] == "Metadata/plate_4.gcode"
    assert request["use_ams"] is True
    assert request["ams_mapping"] == [0]


async def test_message_severities_in_the_api_words(farm: Farm, peer: BambuPeer) -> None:
    printer = await add_bambu(farm, peer)
    peer.printer.push_delta(
        gcode_state="PAUSE",
        hms=[
            {"attr": 0x07000700, "code": 0x00020004},  # HMS level 2 (serious): AMS runout
            {"attr": 0x0C000300, "code": 0x00030001},  # level 3 (common)
            {"attr": 0x05000100, "code": 0x00040002},  # level 4 (info)
        ],
    )

    async def messages() -> list[dict[str, Any]]:
        return list((await farm.status(printer))["messages"])

    found = await farm.wait_for(messages, timeout=10, what="HMS messages in the status")
    assert [(m["code"], m["severity"]) for m in found] == [
        ("HMS_0700_0700_0002_0004", "error"),
        ("HMS_0C00_0300_0003_0001", "warning"),
        ("HMS_0500_0100_0004_0002", "info"),
    ]
    assert (await farm.status(printer))["status"] == "paused"  # reasons, not a state
