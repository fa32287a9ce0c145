"""Bambu printers as they really behave: report shapes from real captures (ha-bambulab mock
reports, OpenBambuAPI), HMS as reasons, partial AMS deltas, dropped commands without
Developer mode, FTPS quirks, per-job start options and the camera."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apf_core.drivers import bambu_report as rep
from apf_core.drivers import create_driver
from apf_core.drivers.bambu import BambuDriver
from apf_core.drivers.bambu_commands import ams_address
from apf_core.drivers.base import (
    Capability,
    CommandIgnored,
    ConnectionConfig,
    DriverError,
    StartOptions,
    Status,
)
from tests.drivers._bambu_peer import (
    BambuPeer,
    FakeCamera,
    fixture,
    make_project,
    missing_reason,
)
from tests.drivers._moonraker_peer import allow_sockets
from tests.drivers.test_bambu import last_request, wait_for

#: "AMS A Slot 1 filament has run out" and "First layer inspection is not supported for the
#: current print job" (fixtures/README.md)
(RUNOUT,) = fixture("bambu/hms.json")["runout"]
(NOTICE,) = fixture("bambu/hms.json")["first_layer_notice"]


# --- report shapes (pure) ---------------------------------------------------------------
def test_pause_with_runout_hms_is_paused_with_the_reason() -> None:
    report = {"gcode_state": "PAUSE", "print_error": 0, "hms": [RUNOUT]}
    assert rep.print_status(report) == (Status.PAUSED, None, None)
    (message,) = rep.messages(report)
    assert (message.code, message.severity) == ("HMS_0700_2000_0002_0001", "serious")
    assert message.url is not None and "e=0700200000020001" in message.url


def test_running_with_a_serious_notice_keeps_printing() -> None:
    report = {"gcode_state": "RUNNING", "print_error": 0, "hms": [NOTICE]}
    assert rep.print_status(report)[0] is Status.PRINTING
    assert rep.messages(report)[0].code == "HMS_0C00_0300_0002_0004"


@pytest.mark.parametrize("code", [0x0300400C, 0x0500400E])
def test_failed_with_a_cancel_echo_reads_as_cancelled(code: int) -> None:
    assert rep.print_status({"gcode_state": "FAILED", "print_error": code})[0] is Status.CANCELLED


def test_ams_delta_for_one_unit_keeps_the_others() -> None:
    report: dict[str, Any] = {}
    full = {
        "ams": {
            "ams": [
                {"id": "0", "tray": [{"id": "0", "tray_type": "PLA"}, {"id": "1"}]},
                {"id": "1", "tray": [{"id": "0", "tray_type": "PETG"}]},
            ],
            "tray_now": "255",
        }
    }
    rep.merge_report(report, full)
    rep.merge_report(report, {"ams": {"ams": [{"id": "1", "tray": [{"id": "0", "remain": 40}]}]}})
    trays = {t.tray_id: t for t in rep.trays(report)}
    assert set(trays) == {0, 1, 4}
    assert trays[4].filament_type == "PETG" and trays[4].remaining_percent == 40
    assert (trays[4].unit, trays[4].slot) == (1, 0)
    assert rep.has_ams(report)


def test_ams_ht_units_and_h2d_external_spools() -> None:
    report = {
        "ams": {
            "ams": [{"id": "128", "tray": [{"id": "0", "tray_type": "ABS"}]}],
            "tray_now": "128",
        },
        "vir_slot": [{"id": "254", "tray_type": "PLA"}, {"id": "255", "tray_type": "TPU"}],
    }
    ids = [t.tray_id for t in rep.trays(report)]
    assert ids == [128, 254, 255]
    assert rep.active_tray(report) == 128


def test_h2d_active_tray_from_the_active_extruder_snow() -> None:
    device = {
        "extruder": {"state": 0x12, "info": [{"id": 0, "snow": 0xFFFF}, {"id": 1, "snow": 0x0102}]}
    }
    assert rep.active_tray({"device": device}) == 6  # extruder 1 active: AMS 1 slot 2
    device["extruder"]["state"] = 0x02
    assert rep.active_tray({"device": device}) is None  # extruder 0: nothing loaded
    device["extruder"]["info"][0]["snow"] = 255 << 8
    assert rep.active_tray({"device": device}) == 255  # the second external spool, not "none"


def test_placeholder_chamber_temperature_on_p1() -> None:
    assert rep.temperatures({"chamber_temper": 5}, "P1S")["chamber_temp"] is None
    assert rep.temperatures({"chamber_temper": 31}, "X1C")["chamber_temp"] == 31


def test_sd_card_presence() -> None:
    assert rep.sd_card_missing({"sdcard": False})
    assert rep.sd_card_missing({"home_flag": 0x7})
    assert not rep.sd_card_missing({"home_flag": 0x107})
    assert not rep.sd_card_missing({})


# --- against the fake printer -------------------------------------------------------------
pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


@pytest.fixture(autouse=True)
def _loopback_sockets() -> None:
    allow_sockets()


@pytest.fixture
def start_peer(tmp_path: Path) -> Iterator[Callable[..., BambuPeer]]:
    started: list[BambuPeer] = []

    def start(**printer_options: Any) -> BambuPeer:
        peer = BambuPeer.start(tmp_path / f"peer{len(started)}", **printer_options)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Any]]:
    made: list[BambuDriver] = []

    async def build(peer: BambuPeer, **overrides: Any) -> BambuDriver:
        options = peer.options(command_timeout=2, connect_timeout=5, confirm_timeout=3)
        driver = create_driver(ConnectionConfig("bambu", options | overrides))
        assert isinstance(driver, BambuDriver)
        made.append(driver)
        await driver.connect()
        await wait_for(driver, lambda s: s.status is Status.IDLE)
        await wait_for(driver, lambda s: driver.model is not None)
        return driver

    yield build
    for driver in made:
        await driver.close()


async def test_without_developer_mode_a_dropped_start_says_what_to_fix(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer(developer_mode=False)
    driver = await connect(peer)
    project = make_project(tmp_path / "cube.gcode.3mf")
    with pytest.raises(CommandIgnored) as info:
        await driver.start_print(project, "cube.gcode.3mf")
    assert info.value.code == "DEVELOPER_MODE_REQUIRED"
    assert "Developer mode" in str(info.value)
    assert driver.state.status is Status.IDLE


async def test_bare_acks_count_only_when_the_state_changes(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer(bare_acks=True)
    driver = await connect(peer)
    await driver.start_print(make_project(tmp_path / "a.gcode.3mf"), "a.gcode.3mf")
    await wait_for(driver, lambda s: s.status is Status.PRINTING)
    await driver.pause()  # confirmed by gcode_state PAUSE, not by the bare reply
    assert driver.state.status is Status.PAUSED
    with pytest.raises(CommandIgnored):
        await driver.send_gcode("M117 hi")  # a bare reply and nothing to see: not done


async def test_per_job_mapping_plate_and_task_id(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer()
    driver = await connect(peer)
    assert Capability.AMS in driver.capabilities  # detected from the reports
    project = make_project(
        tmp_path / "two.gcode.3mf",
        filaments=((1, "PETG", "#00FF00"), (3, "PLA", "#FF0000")),
        plates=(1, 2),
    )
    await driver.start_print(project, "two.gcode.3mf", StartOptions(plate=2))
    request = last_request(peer, "project_file")
    assert request["param"] == "Metadata/plate_2.gcode"
    assert request["use_ams"] is True
    assert request["ams_mapping"] == [1, -1, 0]
    assert request["ams_mapping2"][0] == {"ams_id": 0, "slot_id": 1}
    assert request["url"] == "file:///sdcard/two.gcode.3mf"
    first_task = request["task_id"]
    await wait_for(driver, lambda s: s.status is Status.PRINTING)
    await driver.stop()
    await wait_for(driver, lambda s: s.status is Status.CANCELLED)
    driver.clear_result()
    await wait_for(driver, lambda s: s.status is Status.IDLE)
    await driver.start_print(project, "two.gcode.3mf")
    assert last_request(peer, "project_file")["task_id"] != first_task


async def test_unsatisfiable_mapping_is_refused_before_the_upload(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer()
    driver = await connect(peer)
    project = make_project(tmp_path / "abs.gcode.3mf", filaments=((1, "ABS", "#000000"),))
    with pytest.raises(DriverError) as info:
        await driver.start_print(project, "abs.gcode.3mf")
    assert info.value.code == "AMS_MAPPING_UNSATISFIABLE"
    assert "ABS" in str(info.value)
    assert peer.ftps.quirks.stores == 0
    assert not (peer.ftps.root / "abs.gcode.3mf").exists()


async def test_printer_without_ams_prints_from_the_external_spool(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer(ams=False)
    driver = await connect(peer)
    assert Capability.AMS not in driver.capabilities
    await driver.start_print(
        make_project(tmp_path / "a.gcode.3mf", filaments=((1, "TPU", "#FFFFFF"),)), "a.gcode.3mf"
    )
    request = last_request(peer, "project_file")
    assert request["use_ams"] is False and request["ams_mapping"] == [254]


async def test_h2d_gets_ftp_urls_and_two_lights(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer(model="H2D")
    driver = await connect(peer)
    assert driver.model == "H2D"
    await driver.start_print(make_project(tmp_path / "h.gcode.3mf"), "h.gcode.3mf")
    assert last_request(peer, "project_file")["url"] == "ftp:///h.gcode.3mf"
    await driver.set_light(True)
    assert driver.state.light_on is True
    nodes = [
        body.get("led_node")
        for r in peer.printer.requests
        for body in r.values()
        if isinstance(body, dict) and body.get("command") == "ledctrl"
    ]
    assert nodes[:2] == ["chamber_light", "chamber_light2"]


async def test_late_226_and_426_on_tls13(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer()
    driver = await connect(peer)
    project = make_project(tmp_path / "late.gcode.3mf")
    peer.ftps.quirks.late_226_s = 3.0  # later than this driver waits for it
    slow_reply = await connect(peer, ftp_final_reply_timeout=1.0)
    await slow_reply.upload(project, "late.gcode.3mf")  # confirmed with SIZE instead
    assert (peer.ftps.root / "late.gcode.3mf").read_bytes() == project.read_bytes()
    await driver.upload(project, "late2.gcode.3mf")  # the default waits long enough

    peer.ftps.quirks.late_226_s = 0.0
    peer.ftps.quirks.refuse_tls13 = True
    await driver.upload(project, "p2s.gcode.3mf")  # retried with TLS 1.2
    assert (peer.ftps.root / "p2s.gcode.3mf").stat().st_size == project.stat().st_size


async def test_cancelled_upload_stops_its_thread(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer()
    driver = await connect(peer)
    big = make_project(tmp_path / "big.gcode.3mf", gcode_bytes=30_000_000)
    peer.ftps.quirks.rate_bytes_s = 1_000_000  # about 30 s for the whole file
    task = asyncio.create_task(driver.upload(big, "big.gcode.3mf"))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = peer.ftps.root / "big.gcode.3mf"
    sizes = [-1]
    for _ in range(40):  # the server drains what the socket buffers hold, then stops
        await asyncio.sleep(0.5)
        sizes.append(stored.stat().st_size)
        if sizes[-1] == sizes[-2] == sizes[-3]:
            break
    assert sizes[-1] == sizes[-3] < big.stat().st_size // 2
    assert driver.start_timeout(big.stat().st_size, 300) > big.stat().st_size / 100_000


async def test_sd_card_missing_refuses_the_upload(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any], tmp_path: Path
) -> None:
    peer = start_peer()
    driver = await connect(peer)
    peer.printer.push_delta(sdcard=False, home_flag=0)
    await wait_for(driver, lambda s: rep.sd_card_missing(driver.report))
    with pytest.raises(DriverError) as info:
        await driver.start_print(make_project(tmp_path / "a.gcode.3mf"), "a.gcode.3mf")
    assert info.value.code == "NO_SD_CARD"


async def test_speed_levels(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any]
) -> None:
    peer = start_peer()
    driver = await connect(peer)
    await driver.set_speed("sport")
    state = await wait_for(driver, lambda s: s.speed_level == "sport")
    assert state.speed_percent == 124
    assert last_request(peer, "print_speed")["param"] == "3"
    with pytest.raises(DriverError):
        await driver.set_speed("warp")


async def test_camera_snapshot_from_the_jpeg_stream(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any]
) -> None:
    peer = start_peer()
    camera = FakeCamera(peer.directory / "cert.pem", peer.directory / "key.pem")
    try:
        driver = await connect(peer, camera_port=camera.port)
        assert Capability.CAMERA in driver.capabilities
        image = await driver.snapshot()
        assert image == FakeCamera.JPEG
        assert camera.logins[0][:4] == (0x40).to_bytes(4, "little")
        camera.access_code = "other"
        with pytest.raises(DriverError, match="closed the connection"):
            await driver.snapshot()
    finally:
        camera.stop()


@pytest.mark.parametrize(
    ("tray_id", "address"),
    [
        (0, (0, 0)),
        (6, (1, 2)),
        (15, (3, 3)),
        (128, (128, 0)),
        (135, (135, 0)),
        (254, (255, 0)),
        (255, (254, 0)),
    ],
)
def test_load_address_of_every_real_tray(tray_id: int, address: tuple[int, int]) -> None:
    """AMS trays are unit * 4 + slot; an AMS HT unit is its own tray (slot 0); the main
    external spool is ams_id 255 and H2D's second one ams_id 254 (BambuStudio's ids)."""
    assert ams_address(tray_id) == address


@pytest.mark.parametrize("tray_id", [16, 127, 136, 253, 256])
def test_load_address_refuses_trays_no_printer_has(tray_id: int) -> None:
    with pytest.raises(DriverError) as info:
        ams_address(tray_id)
    assert info.value.code == "INVALID_TRAY"


async def test_load_from_an_ams_ht_unit_and_the_second_external_spool(
    start_peer: Callable[..., BambuPeer], connect: Callable[..., Any]
) -> None:
    peer = start_peer()
    driver = await connect(peer)
    peer.printer.push_ams_unit({"id": "128", "tray": [{"id": "0", "tray_type": "ABS"}]})
    peer.printer.push_delta(
        vir_slot=[{"id": "254", "tray_type": "PLA"}, {"id": "255", "tray_type": "TPU"}]
    )
    await wait_for(driver, lambda s: {128, 255} <= {t.tray_id for t in s.trays})

    await driver.load_filament(128, 250)
    request = last_request(peer, "ams_change_filament")
    assert (request["ams_id"], request["slot_id"], request["target"]) == (128, 0, 128)
    await wait_for(driver, lambda s: s.active_tray == 128)

    await driver.load_filament(255, 230)
    request = last_request(peer, "ams_change_filament")
    assert (request["ams_id"], request["slot_id"], request["target"]) == (254, 0, 255)
