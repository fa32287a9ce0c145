"""The OctoPrint driver against a real OctoPrint 1.11.8 with its Virtual Printer."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.error
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from apf_core.drivers import create_driver
from apf_core.drivers.base import (
    AuthenticationFailed,
    Capability,
    CapabilityNotSupported,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PrinterUnreachable,
    Status,
)
from apf_core.drivers.octoprint import OctoPrintDriver
from apf_core.drivers.octoprint_state import layer_offsets, map_state
from tests.drivers._moonraker_peer import start_fake_webcam
from tests.drivers._octoprint_peer import SETUP_HINT, OctoPrintPeer, free_port, peer_available
from tests.drivers.conftest import allow_local_sockets, wait_for, wait_for_status

needs_peer = pytest.mark.skipif(not peer_available(), reason=SETUP_HINT)

SHORT_GCODE = "M140 S0\n;LAYER_CHANGE\nG1 X10 Y10 F3000\n;LAYER_CHANGE\nG1 X20 Y20\nG1 X30 Y30\n"


def long_gcode(moves: int = 4000) -> str:
    """A file the Virtual Printer needs minutes for (about 75 ms a line)."""
    lines = ["M104 S0", "G28"]
    for index in range(moves):
        if index % 100 == 0:
            lines.append(";LAYER_CHANGE")
        lines.append(f"G1 X{index % 100} Y{(index * 7) % 100} F3000")
    return "\n".join(lines) + "\n"


# --- unit: mapping and parsing (no peer needed) ----------------------------------------


@pytest.mark.parametrize(
    ("text", "flags", "expected"),
    [
        ("Operational", {"operational": True, "ready": True}, Status.IDLE),
        ("Starting", {"operational": True, "printing": True}, Status.PREPARING),
        ("Printing", {"operational": True, "printing": True}, Status.PRINTING),
        ("Printing from SD", {"operational": True, "printing": True}, Status.PRINTING),
        ("Finishing", {"operational": True, "finishing": True}, Status.PRINTING),
        ("Resuming", {"operational": True, "resuming": True}, Status.PRINTING),
        ("Pausing", {"operational": True, "pausing": True}, Status.PAUSING),
        ("Paused", {"operational": True, "paused": True}, Status.PAUSED),
        ("Cancelling", {"operational": True, "cancelling": True}, Status.CANCELLING),
        ("Error", {"error": True, "closedOrError": True}, Status.ERROR),
        ("Offline", {"closedOrError": True}, Status.OFFLINE),
        ("Offline after error", {"closedOrError": True, "error": True}, Status.OFFLINE),
        ("Connecting", {}, Status.OFFLINE),
    ],
)
def test_map_state(text: str, flags: dict[str, bool], expected: Status) -> None:
    assert map_state(text, flags) is expected


def test_layer_offsets(tmp_path: Path) -> None:
    path = tmp_path / "a.gcode"
    path.write_bytes(b"G28\n;LAYER_CHANGE\nG1 X1\n;LAYER:1\nG1 X2\n")
    assert layer_offsets(path) == [4, 24]


def test_needs_url_or_host() -> None:
    with pytest.raises(ValueError, match="url"):
        OctoPrintDriver(ConnectionConfig("octoprint", {"api_key": "x"}))
    driver = OctoPrintDriver(ConnectionConfig("octoprint", {"host": "octopi", "api_key": "x"}))
    assert driver.base_url == "http://octopi:80"


async def test_unreachable_server_keeps_retrying() -> None:
    port = free_port()  # nothing listens there
    driver = create_driver(
        ConnectionConfig(
            "octoprint", {"url": f"http://127.0.0.1:{port}", "api_key": "k", "reconnect_max": 0.2}
        )
    )
    try:
        await driver.connect()
        assert driver.state.status is Status.OFFLINE
        assert driver.state.error is not None
        assert "cannot reach OctoPrint" in driver.state.error
        with pytest.raises(PrinterUnreachable):
            await driver.pause()
    finally:
        await driver.close()


async def test_light_is_not_supported() -> None:
    driver = OctoPrintDriver(ConnectionConfig("octoprint", {"url": "http://x", "api_key": "k"}))
    assert Capability.LIGHT not in driver.capabilities
    with pytest.raises(CapabilityNotSupported):
        await driver.set_light(True)
    with pytest.raises(CapabilityNotSupported):
        await driver.load_filament(254, 210)


def _snapshot(text: str, completion: float | None, **flags: bool) -> dict[str, Any]:
    return {
        "current": {
            "state": {"text": text, "flags": {"operational": True, **flags}, "error": ""},
            "job": {"file": {"name": "cube.gcode"}},
            "progress": {"completion": completion, "filepos": 10, "printTimeLeft": 125},
            "temps": [
                {"tool0": {"actual": 200.5, "target": 210}, "bed": {"actual": 60, "target": 60}}
            ],
        }
    }


async def test_push_messages_and_events() -> None:
    driver = OctoPrintDriver(ConnectionConfig("octoprint", {"url": "http://x", "api_key": "k"}))
    for junk in ({}, {"current": "nonsense"}, {"event": 5}, {"current": {"state": None}}):
        assert driver._on_push(junk) is False  # ignored, no crash
    assert driver._on_push(_snapshot("Printing", 42.0, printing=True)) is True
    state = driver.state
    assert (state.status, state.progress, state.remaining_time_minutes) == (Status.PRINTING, 42, 3)
    assert (state.nozzle_temp, state.nozzle_target, state.current_file) == (
        200.5,
        210,
        "cube.gcode",
    )

    driver._on_push({"event": {"type": "PrintFailed", "payload": {"reason": "error"}}})
    driver._on_push(_snapshot("Operational", None, ready=True))
    assert (driver.state.status, driver.state.error) == (Status.ERROR, "print failed")

    driver._on_push({"event": {"type": "PrintStarted", "payload": {}}})
    driver._on_push(_snapshot("Printing", 99.0, printing=True))
    driver._on_push({"event": {"type": "PrintDone", "payload": None}})
    driver._on_push(_snapshot("Operational", 100.0, ready=True))
    assert (driver.state.status, driver.state.progress) == (Status.FINISHED, 100)


async def test_polling_infers_cancelled_and_finished() -> None:
    driver = OctoPrintDriver(ConnectionConfig("octoprint", {"url": "http://x", "api_key": "k"}))
    driver._on_push(_snapshot("Printing", 30.0, printing=True))
    driver._on_push(_snapshot("Operational", None, ready=True))  # no event seen
    assert driver.state.status is Status.CANCELLED
    assert driver.state.progress == 30  # where it stopped
    driver._on_push(_snapshot("Printing", 50.0, printing=True))
    driver._on_push(_snapshot("Operational", 100.0, ready=True))
    assert driver.state.status is Status.FINISHED


async def test_command_timeout() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def user(request: web.Request) -> web.Response:
        return web.json_response({"name": "farm"})

    async def job(request: web.Request) -> web.Response:
        return web.json_response({"state": "Operational", "job": {}, "progress": {}})

    app = web.Application()
    app.router.add_get("/api/currentuser", user)
    app.router.add_get("/api/job", job)
    app.router.add_route("*", "/{tail:.*}", slow)
    runner = web.AppRunner(app, shutdown_timeout=1.0)  # do not wait out the slow handlers
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    driver = OctoPrintDriver(
        ConnectionConfig(
            "octoprint", {"url": url, "api_key": "k", "timeout": 0.3, "use_push": False}
        )
    )
    try:
        await driver.connect()  # /api/printer times out: reported offline, not raised
        assert driver.state.status is Status.OFFLINE
        with pytest.raises(CommandTimeout):
            await driver.home()
    finally:
        await driver.close()
        await runner.cleanup()


# --- against the real peer ------------------------------------------------------------


@pytest.fixture(scope="session")
def octoprint_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintPeer]:
    if not peer_available():
        pytest.skip(SETUP_HINT)
    allow_local_sockets()
    peer = OctoPrintPeer(tmp_path_factory.mktemp("octoprint"))
    peer.start()
    yield peer
    peer.stop()


@pytest.fixture
def idle_peer(octoprint_peer: OctoPrintPeer) -> OctoPrintPeer:
    """The shared peer with no job running and cold heaters."""
    peer = octoprint_peer
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = str(peer.get("/api/job")["state"])
        if state == "Operational":
            break
        if state.startswith("Offline"):
            peer.request("POST", "/api/connection", {"command": "connect"})
        if state in ("Printing", "Paused", "Pausing", "Starting"):
            with contextlib.suppress(urllib.error.HTTPError):
                peer.request("POST", "/api/job", {"command": "cancel"})
        time.sleep(0.3)
    else:
        raise RuntimeError("OctoPrint peer did not become idle")
    peer.request("POST", "/api/printer/tool", {"command": "target", "targets": {"tool0": 0}})
    peer.request("POST", "/api/printer/bed", {"command": "target", "target": 0})
    return peer


@pytest.fixture
async def make_driver() -> AsyncIterator[Callable[..., OctoPrintDriver]]:
    drivers: list[OctoPrintDriver] = []

    def build(peer: OctoPrintPeer, **options: Any) -> OctoPrintDriver:
        options = {"url": peer.url, "api_key": peer.api_key, "poll_interval": 0.5, **options}
        driver = create_driver(ConnectionConfig("octoprint", options))
        assert isinstance(driver, OctoPrintDriver)
        drivers.append(driver)
        return driver

    yield build
    for driver in drivers:
        await driver.close()


@needs_peer
async def test_connect_and_status(
    idle_peer: OctoPrintPeer, make_driver: Callable[..., Any]
) -> None:
    driver = make_driver(idle_peer)
    await driver.connect()
    state = await wait_for(driver, lambda s: s.nozzle_temp is not None)
    assert state.status in (Status.IDLE, Status.FINISHED, Status.CANCELLED)
    assert state.bed_temp is not None
    assert Capability.CHAMBER_TEMP not in driver.capabilities  # the default profile has none
    await driver.close()
    assert driver.state.status is Status.OFFLINE


@needs_peer
async def test_wrong_api_key(idle_peer: OctoPrintPeer, make_driver: Callable[..., Any]) -> None:
    driver = make_driver(idle_peer, api_key="not-the-key")
    with pytest.raises(AuthenticationFailed, match="rejected the API key"):
        await driver.connect()
    assert driver.state.status is Status.OFFLINE


@needs_peer
async def test_print_to_completion(
    idle_peer: OctoPrintPeer, make_driver: Callable[..., Any], tmp_path: Path
) -> None:
    path = tmp_path / "short.gcode"
    path.write_text(SHORT_GCODE)
    driver = make_driver(idle_peer)
    await driver.connect()
    await driver.start_print(path, "apf short.gcode")
    state = await wait_for_status(driver, Status.FINISHED, timeout=30)
    assert state.current_file is not None
    assert state.current_file.endswith("short.gcode")
    assert state.progress == 100
    assert (state.layer_num, state.total_layers) == (2, 2)
    files = idle_peer.get("/api/files/local")["files"]
    assert isinstance(files, list)
    assert any(f["name"] == state.current_file for f in files)


@needs_peer
@pytest.mark.parametrize("use_push", [True, False], ids=["push", "polling"])
async def test_pause_resume_cancel(
    idle_peer: OctoPrintPeer, make_driver: Callable[..., Any], tmp_path: Path, use_push: bool
) -> None:
    path = tmp_path / "long.gcode"
    path.write_text(long_gcode())
    driver = make_driver(idle_peer, use_push=use_push)
    await driver.connect()
    with pytest.raises(DriverError, match="409"):
        await driver.pause()  # nothing to pause yet

    await driver.start_print(path, "long.gcode")
    printing = await wait_for(
        driver, lambda s: s.status is Status.PRINTING and (s.progress or 0) > 0, timeout=30
    )
    assert printing.current_file == "long.gcode"
    assert printing.total_layers == 40
    assert printing.layer_num is not None
    assert printing.layer_num >= 1

    await driver.pause()
    paused = await wait_for_status(driver, Status.PAUSED, timeout=30)
    assert str(idle_peer.get("/api/job")["state"]) == "Paused"

    await driver.resume()
    await wait_for(
        driver,
        lambda s: s.status is Status.PRINTING and (s.progress or 0) > (paused.progress or 0),
        timeout=30,
    )

    await driver.stop()
    cancelled = await wait_for_status(driver, Status.CANCELLED, timeout=30)
    assert cancelled.current_file == "long.gcode"
    await asyncio.sleep(1.5)  # OctoPrint is "Operational" again; the result sticks
    assert driver.state.status is Status.CANCELLED
    assert str(idle_peer.get("/api/job")["state"]) == "Operational"


@needs_peer
async def test_temperatures_home_and_gcode(
    idle_peer: OctoPrintPeer, make_driver: Callable[..., Any]
) -> None:
    driver = make_driver(idle_peer)
    await driver.connect()
    await driver.set_temperature("nozzle", 200)
    await driver.set_temperature("bed", 60)
    state = await wait_for(
        driver,
        lambda s: s.nozzle_target == 200 and s.bed_target == 60 and (s.nozzle_temp or 0) > 30,
        timeout=30,
    )
    assert state.bed_temp is not None
    with pytest.raises(CapabilityNotSupported):
        await driver.set_temperature("chamber", 40)
    with pytest.raises(DriverError, match="unknown heater"):
        await driver.set_temperature("tool9", 40)

    await driver.home()
    await driver.send_gcode("M104 S0\nM140 S0")
    await wait_for(driver, lambda s: s.nozzle_target == 0 and s.bed_target == 0, timeout=30)
    with pytest.raises(DriverError, match="no G-code"):
        await driver.send_gcode("  \n")


@needs_peer
async def test_reconnects_after_server_restart(
    make_driver: Callable[..., Any], tmp_path: Path
) -> None:
    peer = OctoPrintPeer(tmp_path / "restart", port=free_port())
    await asyncio.to_thread(peer.start)
    try:
        driver = make_driver(peer, reconnect_max=0.5)
        await driver.connect()
        await wait_for(driver, lambda s: s.nozzle_temp is not None, timeout=15)
        await asyncio.to_thread(peer.stop)
        offline = await wait_for_status(driver, Status.OFFLINE, timeout=30)
        assert offline.error
        with pytest.raises(PrinterUnreachable):
            await driver.home()
        await asyncio.to_thread(peer.start)
        await wait_for(driver, lambda s: s.status is not Status.OFFLINE, timeout=60)
        await driver.home()
    finally:
        await asyncio.to_thread(peer.stop)


@needs_peer
async def test_serial_port_offline(
    idle_peer: OctoPrintPeer, make_driver: Callable[..., Any]
) -> None:
    watcher = make_driver(idle_peer)
    await watcher.connect()
    await wait_for(watcher, lambda s: s.nozzle_temp is not None)
    idle_peer.request("POST", "/api/connection", {"command": "disconnect"})
    offline = await wait_for_status(watcher, Status.OFFLINE, timeout=15)
    assert offline.error is not None
    assert "not connected to the printer" in offline.error

    healer = make_driver(idle_peer, connect_serial=True)
    await healer.connect()
    await wait_for(healer, lambda s: s.status is not Status.OFFLINE, timeout=30)
    await wait_for(watcher, lambda s: s.status is not Status.OFFLINE, timeout=30)


@needs_peer
async def test_firmware_error_mid_print_fails_the_job(
    idle_peer: OctoPrintPeer, make_driver: Callable[..., Any], tmp_path: Path
) -> None:
    """The real Virtual Printer halts with a Marlin kill(): OctoPrint fires PrintFailed and
    goes "Offline after error". The driver says ERROR (the job failed), not OFFLINE, and the
    result sticks until the bed is cleared."""
    path = tmp_path / "long.gcode"
    path.write_text(long_gcode())
    driver = make_driver(idle_peer)
    await driver.connect()
    await driver.start_print(path, "doomed.gcode")
    await wait_for(driver, lambda s: s.status is Status.PRINTING, timeout=30)
    idle_peer.request(
        "POST", "/api/printer/command", {"command": "!!DEBUG:trigger_fatal_error_marlin"}
    )
    failed = await wait_for_status(driver, Status.ERROR, timeout=30)
    assert failed.error is not None
    assert failed.messages and failed.messages[0].code == "FIRMWARE_ERROR"
    await asyncio.sleep(2)
    assert driver.state.status is Status.ERROR  # not OFFLINE forever, and not forgotten
    assert str(idle_peer.get("/api/job")["state"]).startswith("Offline")

    driver.clear_result()
    cleared = await wait_for_status(driver, Status.OFFLINE, timeout=10)
    assert cleared.offline_reason is not None and "not connected" in cleared.offline_reason


@needs_peer
async def test_webcam_snapshot_from_settings(
    idle_peer: OctoPrintPeer, make_driver: Callable[..., Any]
) -> None:
    runner, url = await start_fake_webcam()
    try:
        idle_peer.request(
            "POST", "/api/settings", {"plugins": {"classicwebcam": {"snapshot": url}}}
        )
        driver = make_driver(idle_peer)
        await driver.connect()
        assert Capability.CAMERA in driver.capabilities
        assert (await driver.snapshot()).startswith(b"\xff\xd8")  # no API key sent to it
        idle_peer.request("POST", "/api/settings", {"plugins": {"classicwebcam": {"snapshot": ""}}})
        with pytest.raises(CapabilityNotSupported, match="snapshot URL"):
            await driver.snapshot()
    finally:
        await runner.cleanup()
