"""The Bambu LAN driver against a fake printer on a real mosquitto (TLS) plus implicit FTPS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apf_core.drivers import create_driver
from apf_core.drivers.bambu import BambuDriver
from apf_core.drivers.bambu_report import deep_merge, hms_code, print_error_code
from apf_core.drivers.base import (
    AuthenticationFailed,
    Capability,
    CapabilityNotSupported,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PrinterState,
    PrinterUnreachable,
    Status,
)
from tests.drivers._bambu_peer import (
    CANCELLED_ERROR,
    BambuPeer,
    free_port,
    make_certificate,
    make_project,
    missing_reason,
)
from tests.drivers._moonraker_peer import allow_sockets

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


@pytest.fixture(autouse=True)
def _loopback_sockets() -> None:
    allow_sockets()


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[BambuPeer]:
    fake = BambuPeer.start(tmp_path / "peer")
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
async def make_driver(peer: BambuPeer) -> AsyncIterator[Callable[..., BambuDriver]]:
    made: list[BambuDriver] = []

    def build(**overrides: Any) -> BambuDriver:
        options = peer.options(command_timeout=3, connect_timeout=5) | overrides
        driver = create_driver(ConnectionConfig("bambu", options))
        assert isinstance(driver, BambuDriver)
        made.append(driver)
        return driver

    yield build
    for driver in made:
        await driver.close()


@pytest.fixture
async def driver(make_driver: Callable[..., BambuDriver]) -> BambuDriver:
    bambu = make_driver()
    await bambu.connect()
    await wait_for(bambu, lambda s: s.status is Status.IDLE)
    return bambu


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "benchy.gcode.3mf")


async def wait_for(
    driver: BambuDriver, predicate: Callable[[PrinterState], bool], timeout: float = 10.0
) -> PrinterState:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate(driver.state):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"state never matched within {timeout}s; last: {driver.state}")
        await asyncio.sleep(0.02)
    return driver.state


def last_request(peer: BambuPeer, command: str) -> dict[str, Any]:
    for request in reversed(peer.printer.requests):
        for body in request.values():
            if isinstance(body, dict) and body.get("command") == command:
                return body
    raise AssertionError(f"printer never received {command}")


# --- pure helpers ------------------------------------------------------------------
def test_deep_merge_keeps_untouched_fields() -> None:
    state: dict[str, Any] = {"a": 1, "nested": {"x": 1, "y": {"z": 2}}, "list": [1, 2]}
    deep_merge(state, {"nested": {"y": {"w": 3}}, "list": [3], "b": {"c": 1}})
    assert state == {"a": 1, "nested": {"x": 1, "y": {"z": 2, "w": 3}}, "list": [3], "b": {"c": 1}}


def test_error_code_formats() -> None:
    assert print_error_code(117473286) == "0700_8006"
    assert print_error_code(CANCELLED_ERROR) == "0300_400C"
    assert hms_code({"attr": 0x03000100, "code": 0x00010007}) == "HMS_0300_0100_0001_0007"


def test_required_options() -> None:
    with pytest.raises(ValueError, match="access_code"):
        BambuDriver(ConnectionConfig("bambu", {"host": "h", "serial": "s"}))


# --- against the fake printer ---------------------------------------------------------
async def test_connect_pushall_and_full_state(driver: BambuDriver, peer: BambuPeer) -> None:
    state = driver.state
    assert peer.printer.pushall_count >= 1
    assert state.nozzle_temp == 24.5
    assert state.bed_temp == 23.0
    assert state.chamber_temp is None  # a P1S has no chamber sensor: its 25.0 is a placeholder
    assert state.light_on is False
    assert state.progress is None
    assert state.current_file is None
    trays = {tray.tray_id: tray for tray in state.trays}
    assert set(trays) == {0, 1, 2, 3, 254}
    assert trays[1].filament_type == "PETG"
    assert trays[1].color_hex == "#00FF00"
    assert trays[1].remaining_percent == 40.0
    assert trays[2].remaining_percent is None  # -1 means unknown
    assert trays[3].filament_type is None  # empty slot
    assert trays[254].filament_type == "TPU"
    assert state.active_tray is None
    await wait_for(driver, lambda s: bool(driver.version_info))
    assert driver.version_info["module"][0]["product_name"] == "Bambu Lab P1S"
    assert Capability.CHAMBER_TEMP not in driver.capabilities


async def test_packed_temperatures_of_newer_firmware(tmp_path: Path) -> None:
    peer = BambuPeer.start(tmp_path / "h2d", model="H2D")
    driver = BambuDriver(ConnectionConfig("bambu", peer.options(command_timeout=3)))
    try:
        await driver.connect()
        state = await wait_for(driver, lambda s: s.status is Status.IDLE)
        assert (state.nozzle_temp, state.nozzle_target) == (215.0, 220.0)
        assert (state.bed_temp, state.bed_target) == (58.0, 60.0)
        assert state.chamber_temp == 35.0
    finally:
        await driver.close()
        peer.stop()


async def test_partial_reports_are_deep_merged(driver: BambuDriver, peer: BambuPeer) -> None:
    peer.printer.push_delta(nozzle_temper=31.5)
    state = await wait_for(driver, lambda s: s.nozzle_temp == 31.5)
    assert state.bed_temp == 23.0  # not in the delta, kept
    assert len(state.trays) == 5

    peer.printer.push_delta(ams={"tray_now": "1"})  # nested delta: AMS units must survive
    state = await wait_for(driver, lambda s: s.active_tray == 1)
    assert len(state.trays) == 5

    peer.printer.push_delta(upload={"progress": 5})
    await wait_for(driver, lambda s: driver.report["upload"]["progress"] == 5)
    assert driver.report["upload"]["status"] == "idle"


async def test_upload_start_pause_resume_finish(
    driver: BambuDriver, peer: BambuPeer, project: Path
) -> None:
    peer.printer.step = 1.0
    await driver.start_print(project, "benchy.gcode.3mf")
    assert (peer.ftps.root / "benchy.gcode.3mf").read_bytes() == project.read_bytes()
    start = last_request(peer, "project_file")
    assert start["param"] == "Metadata/plate_1.gcode"
    assert start["url"] == "file:///sdcard/benchy.gcode.3mf"
    assert start["subtask_name"] == "benchy"
    assert isinstance(start["sequence_id"], str)

    await wait_for(driver, lambda s: s.status is Status.PREPARING)
    state = await wait_for(driver, lambda s: s.status is Status.PRINTING and (s.progress or 0) > 0)
    assert state.current_file == "benchy"
    assert state.total_layers == 50
    assert state.nozzle_target == 220.0

    await driver.pause()
    paused = await wait_for(driver, lambda s: s.status is Status.PAUSED)
    await asyncio.sleep(0.3)
    assert driver.state.progress == paused.progress

    await driver.resume()
    await wait_for(driver, lambda s: s.status is Status.PRINTING)
    peer.printer.step = 20.0
    state = await wait_for(driver, lambda s: s.status is Status.FINISHED)
    assert state.progress == 100.0
    assert state.remaining_time_minutes == 0
    assert state.error is None


async def test_plain_gcode_uses_gcode_file(
    driver: BambuDriver, peer: BambuPeer, tmp_path: Path
) -> None:
    path = tmp_path / "cube.gcode"
    path.write_text("G28\nG1 X10\n")
    await driver.start_print(path, "cube.gcode")
    assert last_request(peer, "gcode_file")["param"] == "/sdcard/cube.gcode"
    await wait_for(driver, lambda s: s.status in (Status.PREPARING, Status.PRINTING))


async def test_stop_is_cancelled_not_failed(
    driver: BambuDriver, peer: BambuPeer, project: Path
) -> None:
    await driver.start_print(project, "benchy.gcode.3mf")
    await wait_for(driver, lambda s: s.status is Status.PRINTING)
    await driver.stop()
    state = await wait_for(driver, lambda s: s.status is Status.CANCELLED)
    assert peer.printer.report["gcode_state"] == "FAILED"
    assert peer.printer.report["print_error"] == CANCELLED_ERROR
    assert state.error is None
    assert state.error_code is None


async def test_failed_print_is_an_error_and_hms_are_messages(
    driver: BambuDriver, peer: BambuPeer
) -> None:
    peer.printer.push_delta(gcode_state="FAILED", print_error=117473286)
    state = await wait_for(driver, lambda s: s.status is Status.ERROR)
    assert state.error_code == 117473286
    assert state.error is not None
    assert "0700_8006" in state.error
    assert [m.code for m in state.messages] == ["0700_8006"]

    driver.clear_result()  # the operator cleared the bed: FAILED no longer blocks
    state = await wait_for(driver, lambda s: s.status is Status.IDLE)
    assert state.error is None

    peer.printer.push_delta(
        gcode_state="IDLE", print_error=0, hms=[{"attr": 0x03000100, "code": 0x00010007}]
    )
    state = await wait_for(driver, lambda s: len(s.messages) == 1)
    assert state.status is Status.IDLE  # a fatal HMS is a reason, not a print state
    assert state.messages[0].code == "HMS_0300_0100_0001_0007"
    assert state.messages[0].severity == "fatal"
    assert state.messages[0].url and "e=0300010000010007" in state.messages[0].url

    peer.printer.push_delta(hms=[])
    state = await wait_for(driver, lambda s: not s.messages)
    assert state.status is Status.IDLE


async def test_light_temperatures_home_and_gcode(driver: BambuDriver, peer: BambuPeer) -> None:
    await driver.set_light(True)
    await wait_for(driver, lambda s: s.light_on is True)
    assert last_request(peer, "ledctrl")["led_node"] == "chamber_light"
    await driver.set_light(False)
    await wait_for(driver, lambda s: s.light_on is False)

    await driver.set_temperature("nozzle", 210)
    await driver.set_temperature("bed", 55.5)
    state = await wait_for(driver, lambda s: s.nozzle_target == 210 and s.bed_target == 55.5)
    assert state.nozzle_temp == 24.5
    assert last_request(peer, "gcode_line")["param"] == "M140 S55.5\n"
    with pytest.raises(CapabilityNotSupported):
        await driver.set_temperature("chamber", 45)
    with pytest.raises(DriverError):
        await driver.set_temperature("nozzle", -5)

    await driver.home()
    assert last_request(peer, "gcode_line")["param"] == "G28\n"
    await driver.send_gcode("M104 S0\n\nM140 S0")
    assert last_request(peer, "gcode_line")["param"] == "M104 S0\nM140 S0\n"
    await wait_for(driver, lambda s: s.nozzle_target == 0 and s.bed_target == 0)
    with pytest.raises(DriverError):
        await driver.send_gcode("  \n")


async def test_chamber_heater_when_configured(
    make_driver: Callable[..., BambuDriver], peer: BambuPeer
) -> None:
    driver = make_driver(chamber_heater=True)
    await driver.connect()
    await driver.set_temperature("chamber", 45)
    assert last_request(peer, "gcode_line")["param"] == "M141 S45\nM145 P1\n"


async def test_filament_load_and_unload(driver: BambuDriver, peer: BambuPeer) -> None:
    await driver.load_filament(1, 240)
    await wait_for(driver, lambda s: s.active_tray == 1)
    request = last_request(peer, "ams_change_filament")
    assert (request["ams_id"], request["slot_id"], request["target"]) == (0, 1, 1)
    assert request["tar_temp"] == 240

    await driver.unload_filament()
    await wait_for(driver, lambda s: s.active_tray is None)
    request = last_request(peer, "ams_change_filament")
    assert (request["ams_id"], request["slot_id"], request["target"]) == (0, 255, 255)

    await driver.load_filament(254, 220)
    await wait_for(driver, lambda s: s.active_tray == 254)
    assert last_request(peer, "ams_change_filament")["ams_id"] == 255

    with pytest.raises(DriverError):
        await driver.load_filament(9, 220)  # no such tray on this printer


async def test_wrong_access_code(make_driver: Callable[..., BambuDriver], project: Path) -> None:
    driver = make_driver(access_code="87654321")
    with pytest.raises(AuthenticationFailed):
        await driver.connect()
    assert driver.state.status is Status.OFFLINE
    assert driver.state.error is not None and "wrong access code" in driver.state.error
    assert driver.state.offline_reason == driver.state.error
    with pytest.raises(AuthenticationFailed):
        await driver.upload(project, "benchy.gcode.3mf")  # FTPS rejects it too


async def test_certificate_verification(
    make_driver: Callable[..., BambuDriver], peer: BambuPeer
) -> None:
    trusted = make_driver(verify_tls=True, ca_cert=str(peer.directory / "cert.pem"))
    await trusted.connect()
    await wait_for(trusted, lambda s: s.status is Status.IDLE)

    (peer.directory / "other").mkdir()
    other_ca, _ = make_certificate(peer.directory / "other", "someone-else")
    untrusted = make_driver(verify_tls=True, ca_cert=str(other_ca), connect_timeout=1)
    await untrusted.connect()  # TLS fails; keeps retrying, no auth error
    await asyncio.sleep(0.5)
    assert untrusted.state.status is Status.OFFLINE
    with pytest.raises(ValueError, match="ca_cert"):  # no system store holds Bambu's CA
        make_driver(verify_tls=True)


async def test_command_timeout(driver: BambuDriver, peer: BambuPeer) -> None:
    driver_options = dict(driver.config.options)
    assert driver_options["command_timeout"] == 3
    peer.printer.mute = True
    with pytest.raises(CommandTimeout):
        await driver.pause()
    peer.printer.mute = False
    await driver.set_light(True)  # the next command is matched to its own reply
    await wait_for(driver, lambda s: s.light_on is True)


async def test_refused_commands_and_missing_files(driver: BambuDriver, peer: BambuPeer) -> None:
    with pytest.raises(DriverError, match="not printing"):
        await driver.pause()
    with pytest.raises(DriverError, match="file not found"):
        await driver.start_file("missing.gcode.3mf")
    peer.printer.refuse.add("ledctrl")
    with pytest.raises(DriverError, match="refused by test"):
        await driver.set_light(True)
    with pytest.raises(DriverError, match="must not contain a path"):
        await driver.upload(Path("/nonexistent"), "a/b.3mf")
    with pytest.raises(DriverError, match="cannot read") as info:
        await driver.upload(Path("/nonexistent.3mf"), "b.3mf")
    assert not isinstance(info.value, PrinterUnreachable)


async def test_malformed_reports_are_ignored(driver: BambuDriver, peer: BambuPeer) -> None:
    peer.printer.publish_raw(b"{not json")
    peer.printer.publish_raw(b"[1, 2, 3]")
    peer.printer.publish_raw(b'{"print": "oops"}')
    peer.printer.push_delta(bed_temper=40.0)
    state = await wait_for(driver, lambda s: s.bed_temp == 40.0)
    assert state.status is Status.IDLE


async def test_unreachable_printer(make_driver: Callable[..., BambuDriver], project: Path) -> None:
    driver = make_driver(port=free_port(), ftp_port=free_port(), connect_timeout=1)
    await driver.connect()  # keeps retrying in the background
    assert driver.state.status is Status.OFFLINE
    with pytest.raises(PrinterUnreachable):
        await driver.pause()
    with pytest.raises(PrinterUnreachable):
        await driver.start_print(project, "benchy.gcode.3mf")
    with pytest.raises(PrinterUnreachable):
        await driver.upload(project, "benchy.gcode.3mf")


async def test_silent_printer_goes_stale_and_is_probed(
    make_driver: Callable[..., BambuDriver], peer: BambuPeer
) -> None:
    driver = make_driver(stale_after=0.5)
    await driver.connect()
    await wait_for(driver, lambda s: s.status is Status.IDLE)
    peer.printer.mute = True  # an idle printer that stops answering
    await wait_for(driver, lambda s: s.status is Status.OFFLINE, timeout=3)
    probes = peer.printer.pushall_count
    peer.printer.mute = False
    state = await wait_for(driver, lambda s: s.status is Status.IDLE, timeout=5)
    assert peer.printer.pushall_count > probes  # the watchdog asked for a full report
    assert state.nozzle_temp == 24.5


async def test_broker_restart_reconnects_and_keeps_state(
    driver: BambuDriver, peer: BambuPeer, project: Path
) -> None:
    peer.printer.step = 0.5
    await driver.start_print(project, "benchy.gcode.3mf")
    before = await wait_for(driver, lambda s: s.status is Status.PRINTING and (s.progress or 0) > 0)
    assert driver.connections == 1

    peer.broker.stop()
    state = await wait_for(driver, lambda s: s.status is Status.OFFLINE)
    assert state.current_file == "benchy"  # what we knew stays until the printer reports again
    with pytest.raises(PrinterUnreachable):
        await driver.pause()

    peer.broker.start()
    state = await wait_for(driver, lambda s: s.status is Status.PRINTING, timeout=20)
    assert driver.connections == 2
    assert state.current_file == "benchy"
    assert len(state.trays) == 5
    peer.printer.wait_connected()
    await wait_for(driver, lambda s: (s.progress or 0) > (before.progress or 0), timeout=15)
    await driver.pause()  # commands flow again
    await wait_for(driver, lambda s: s.status is Status.PAUSED)
