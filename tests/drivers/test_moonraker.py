"""The Moonraker driver against a real Moonraker 0.11.0 over a real Klippy (batch mode)."""

from __future__ import annotations

import asyncio
import contextlib
import json
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
    PrinterState,
    PrinterUnreachable,
    Status,
)
from apf_core.drivers.moonraker import MoonrakerDriver
from apf_core.drivers.moonraker_rpc import RpcError
from tests.drivers._moonraker_peer import (
    LIGHT_PIN,
    MoonrakerPeer,
    allow_sockets,
    big_gcode,
    free_port,
    missing_reason,
    start_fake_webcam,
)

SMALL_GCODE = (
    "G28\nG90\nSET_PRINT_STATS_INFO TOTAL_LAYER=2 CURRENT_LAYER=1\nG1 X20 Y20 F6000\n"
    "SET_PRINT_STATS_INFO CURRENT_LAYER=2\nG1 X40 Y40 F6000\n"
)


@pytest.fixture(autouse=True)
def _loopback_sockets() -> None:
    allow_sockets()


@pytest.fixture(scope="session")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MoonrakerPeer]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    allow_sockets()  # session fixtures run before the autouse one
    server = MoonrakerPeer(tmp_path_factory.mktemp("moonraker"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gcode") / "big.gcode"
    path.write_text(big_gcode())
    return path


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.gcode"
    path.write_text(SMALL_GCODE)
    return path


def _idle_peer(peer: MoonrakerPeer) -> None:
    """Leave the printer idle between tests, whatever the previous test did."""
    if peer.moonraker is None or peer.moonraker.poll() is not None:
        peer.start_moonraker()
    peer.wait_ready()
    state = peer.query("print_stats")["print_stats"]["state"]
    if state in ("printing", "paused"):
        peer.post("/printer/print/cancel")


@pytest.fixture
async def make_driver(peer: MoonrakerPeer) -> AsyncIterator[Callable[..., MoonrakerDriver]]:
    _idle_peer(peer)
    made: list[MoonrakerDriver] = []

    def build(**options: Any) -> MoonrakerDriver:
        options = {
            "url": peer.url,
            "api_key": peer.api_key,
            "light_pin": LIGHT_PIN,
            "backoff_initial": 0.2,
            "backoff_max": 1.0,
            "command_timeout": 60,
            "connect_timeout": 60,
        } | options
        driver = create_driver(ConnectionConfig("moonraker", options))
        assert isinstance(driver, MoonrakerDriver)
        made.append(driver)
        return driver

    yield build
    for driver in made:
        await driver.close()


@pytest.fixture
async def driver(make_driver: Callable[..., MoonrakerDriver]) -> MoonrakerDriver:
    moonraker = make_driver()
    await moonraker.connect()
    await wait_for(moonraker, lambda s: s.status is not Status.OFFLINE)
    return moonraker


async def wait_for(
    driver: MoonrakerDriver, predicate: Callable[[PrinterState], bool], timeout: float = 30.0
) -> PrinterState:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate(driver.state):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"state never matched within {timeout}s; last: {driver.state}")
        await asyncio.sleep(0.05)
    return driver.state


async def test_connect_reports_idle_state_and_capabilities(driver: MoonrakerDriver) -> None:
    state = await wait_for(
        driver, lambda s: s.status in (Status.IDLE, Status.CANCELLED, Status.FINISHED)
    )
    assert state.nozzle_temp == 0.0  # batch-mode Klippy has no ADC
    assert state.bed_temp == 0.0
    assert state.light_on is False
    assert state.error is None
    assert {
        Capability.LIGHT,
        Capability.FILAMENT_LOAD,
        Capability.GCODE,
        Capability.HEATERS,
        Capability.HOME,
    } <= driver.capabilities
    assert Capability.CHAMBER_TEMP not in driver.capabilities
    assert "print_stats" in driver.available_objects


async def test_wrong_api_key_is_rejected(make_driver: Callable[..., MoonrakerDriver]) -> None:
    driver = make_driver(api_key="not-the-key")
    with pytest.raises(AuthenticationFailed):
        await driver.connect()
    assert driver.state.status is Status.OFFLINE
    assert driver.state.error is not None
    assert "credentials" in driver.state.error


async def test_oneshot_token_login(
    make_driver: Callable[..., MoonrakerDriver], peer: MoonrakerPeer
) -> None:
    driver = make_driver(oneshot_token=True)
    await driver.connect()
    state = await wait_for(driver, lambda s: s.status is not Status.OFFLINE)
    assert state.error is None
    await driver.send_gcode("M117 token ok")
    assert peer.query("display_status")["display_status"]["message"] == "token ok"
    bad = make_driver(oneshot_token=True, api_key="wrong")
    with pytest.raises(AuthenticationFailed):
        await bad.connect()


async def test_missing_api_key_is_rejected(make_driver: Callable[..., MoonrakerDriver]) -> None:
    driver = make_driver(api_key=None)
    with pytest.raises(AuthenticationFailed):
        await driver.connect()


async def test_unreachable_printer_stays_offline(
    make_driver: Callable[..., MoonrakerDriver], small_file: Path
) -> None:
    driver = make_driver(url=f"http://127.0.0.1:{free_port()}")
    await driver.connect()  # does not raise: keeps retrying in the background
    assert driver.state.status is Status.OFFLINE
    with pytest.raises(PrinterUnreachable):
        await driver.pause()
    with pytest.raises(PrinterUnreachable):
        await driver.start_print(small_file, "small.gcode")


def test_url_is_required() -> None:
    with pytest.raises(ValueError):
        MoonrakerDriver(ConnectionConfig("moonraker", {}))


async def test_temperatures_home_gcode_light_and_filament(
    driver: MoonrakerDriver, peer: MoonrakerPeer
) -> None:
    await driver.set_temperature("nozzle", 200)
    await driver.set_temperature("bed", 60)
    state = await wait_for(driver, lambda s: s.nozzle_target == 200.0 and s.bed_target == 60.0)
    assert state.nozzle_temp == 0.0
    await driver.set_temperature("nozzle", 0)
    await driver.set_temperature("bed", 0)
    await wait_for(driver, lambda s: s.nozzle_target == 0.0 and s.bed_target == 0.0)
    with pytest.raises(CapabilityNotSupported):
        await driver.set_temperature("chamber", 40)
    with pytest.raises(DriverError):
        await driver.set_temperature("hotend9", 40)

    await driver.home()
    homed = peer.query("toolhead")["toolhead"]["homed_axes"]
    assert homed == "xyz"

    await driver.send_gcode("M117 hello from apf")
    assert peer.query("display_status")["display_status"]["message"] == "hello from apf"

    await driver.set_light(True)
    await wait_for(driver, lambda s: s.light_on is True)
    await driver.set_light(False)
    await wait_for(driver, lambda s: s.light_on is False)

    await driver.load_filament(0, 215)
    assert peer.query("display_status")["display_status"]["message"] == "loaded 215"
    await driver.unload_filament()
    assert peer.query("display_status")["display_status"]["message"] == "unloaded"


async def test_light_and_filament_need_configuration(
    make_driver: Callable[..., MoonrakerDriver],
) -> None:
    driver = make_driver(light_pin=None, load_macro="NO_SUCH_MACRO")
    await driver.connect()
    await wait_for(driver, lambda s: s.status is not Status.OFFLINE)
    assert Capability.LIGHT not in driver.capabilities
    assert Capability.FILAMENT_LOAD not in driver.capabilities
    assert driver.state.light_on is None
    with pytest.raises(CapabilityNotSupported):
        await driver.set_light(True)
    with pytest.raises(CapabilityNotSupported):
        await driver.load_filament(0, 200)


async def test_missing_file_is_a_driver_error(driver: MoonrakerDriver) -> None:
    with pytest.raises(RpcError) as info:
        await driver.start_file("does-not-exist.gcode")
    assert info.value.rpc_code == 400
    with pytest.raises(DriverError, match="cannot read") as local:
        await driver.start_print(Path("/nonexistent.gcode"), "x.gcode")
    assert not isinstance(local.value, PrinterUnreachable)


async def test_small_print_finishes(
    driver: MoonrakerDriver, small_file: Path, peer: MoonrakerPeer
) -> None:
    await driver.start_print(small_file, "small.gcode")
    state = await wait_for(driver, lambda s: s.status is Status.FINISHED)
    assert state.current_file == "small.gcode"
    assert state.progress == 100.0
    assert state.remaining_time_minutes == 0
    assert state.layer_num == 2
    assert state.total_layers == 2
    assert (peer.gcodes / "small.gcode").read_text() == SMALL_GCODE


async def test_upload_start_pause_resume_cancel(
    driver: MoonrakerDriver, big_file: Path, peer: MoonrakerPeer
) -> None:
    await driver.start_print(big_file, "big.gcode")
    state = await wait_for(driver, lambda s: s.status is Status.PRINTING and bool(s.progress))
    assert state.current_file == "big.gcode"
    assert state.total_layers == 10

    await driver.pause()
    await wait_for(driver, lambda s: s.status is Status.PAUSED)
    assert peer.query("pause_resume")["pause_resume"]["is_paused"] is True
    paused = driver.state
    await asyncio.sleep(1.0)
    assert driver.state.progress == paused.progress  # nothing moves while paused

    await driver.resume()
    await wait_for(driver, lambda s: s.status is Status.PRINTING)
    await wait_for(driver, lambda s: (s.progress or 0) > (paused.progress or 0))
    assert driver.state.remaining_time_minutes is not None

    await driver.stop()
    state = await wait_for(driver, lambda s: s.status is Status.CANCELLED)
    assert state.current_file == "big.gcode"
    assert peer.query("print_stats")["print_stats"]["state"] == "cancelled"


async def test_remaining_time_comes_from_slicer_metadata(
    driver: MoonrakerDriver, big_file: Path, tmp_path: Path
) -> None:
    sliced = tmp_path / "sliced.gcode"
    sliced.write_text(
        "; generated by PrusaSlicer 2.8.1+linux-x64 on 2026-11-21 at 12:00:00 UTC\n"
        + big_file.read_text()
        + "; estimated printing time (normal mode) = 1h 2m 3s\n"
    )
    await driver.start_print(sliced, "sliced.gcode")
    # 3723 s from the slicer minus the time printed so far; the progress-based
    # fallback would say about a minute for this file
    state = await wait_for(driver, lambda s: 55 <= (s.remaining_time_minutes or 0) <= 62)
    assert state.status is Status.PRINTING
    assert driver._estimated_time["sliced.gcode"] == 3723.0  # the metadata was read
    await driver.stop()
    await wait_for(driver, lambda s: s.status is Status.CANCELLED)


async def test_moonraker_going_away_mid_print(
    driver: MoonrakerDriver, big_file: Path, peer: MoonrakerPeer
) -> None:
    await driver.start_print(big_file, "big.gcode")
    await wait_for(driver, lambda s: s.status is Status.PRINTING and bool(s.progress))
    connections = driver.connections

    peer.stop_moonraker()
    await wait_for(driver, lambda s: s.status is Status.OFFLINE)
    with pytest.raises(PrinterUnreachable):
        await driver.pause()
    await asyncio.sleep(1.5)  # several failed reconnect attempts (backoff)
    assert driver.state.status is Status.OFFLINE

    peer.start_moonraker()  # same port; Klippy kept printing meanwhile
    state = await wait_for(driver, lambda s: s.status is Status.PRINTING, timeout=90)
    assert driver.connections == connections + 1
    assert state.current_file == "big.gcode"
    await wait_for(driver, lambda s: (s.progress or 0) > (state.progress or 0))  # tracking again

    await driver.stop()  # commands work again on the new connection
    await wait_for(driver, lambda s: s.status is Status.CANCELLED)


async def test_klippy_restart_is_tracked(driver: MoonrakerDriver, peer: MoonrakerPeer) -> None:
    await wait_for(driver, lambda s: s.status is not Status.OFFLINE)
    peer.post("/printer/emergency_stop")
    state = await wait_for(driver, lambda s: s.status is Status.ERROR)
    assert state.error
    with pytest.raises(PrinterUnreachable):
        await driver.home()
    peer.post("/printer/firmware_restart")
    state = await wait_for(driver, lambda s: s.status is Status.IDLE, timeout=60)
    assert state.error is None
    await driver.send_gcode("M117 back")  # resubscribed and accepting commands


# --- protocol edge cases against a scripted fake server (no peer needed) -----------------
@pytest.fixture
async def fake_moonraker() -> AsyncIterator[str]:
    """A minimal Moonraker: malformed frames, Klippy starting up, a silent gcode call."""

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str("this is not json")
        await ws.send_str("[1, 2, 3]")
        await ws.send_str(json.dumps({"jsonrpc": "2.0", "result": "stray", "id": 9999}))
        async for message in ws:
            call = json.loads(message.data)
            method, call_id = call["method"], call["id"]
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": call_id}
            if method == "server.connection.identify":
                reply["result"] = {"connection_id": 1}
            elif method == "server.info":
                reply["result"] = {"klippy_state": "startup"}
                asyncio.get_running_loop().call_later(
                    0.3,
                    lambda: asyncio.ensure_future(
                        ws.send_str(json.dumps({"jsonrpc": "2.0", "method": "notify_klippy_ready"}))
                    ),
                )
            elif method == "printer.objects.list":
                reply["result"] = {"objects": ["webhooks", "print_stats", "extruder"]}
            elif method == "printer.objects.subscribe":
                reply["result"] = {
                    "eventtime": 1.0,
                    "status": {
                        "webhooks": {"state": "ready"},
                        "print_stats": {
                            "state": "error",
                            "message": "Move out of range",
                            "filename": "x.gcode",
                        },
                        "extruder": {"temperature": 21.5, "target": 0.0},
                    },
                }
            elif method == "printer.print.pause":
                reply["error"] = {"code": 503, "message": "Klippy Disconnected"}
            elif method == "printer.print.resume":
                reply["error"] = {"code": 400, "message": "Print is not paused"}
            else:
                continue  # never answer (printer.gcode.script)
            await ws.send_str(json.dumps(reply))
        return ws

    app = web.Application()
    app.router.add_get("/websocket", websocket)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_fake_server_startup_errors_and_timeouts(fake_moonraker: str) -> None:
    driver = MoonrakerDriver(
        ConnectionConfig(
            "moonraker", {"url": fake_moonraker, "command_timeout": 0.3, "backoff_initial": 0.1}
        )
    )
    try:
        await driver.connect()
        assert driver.state.status is Status.OFFLINE  # klippy still starting
        state = await wait_for(driver, lambda s: s.status is Status.ERROR, timeout=5)
        assert state.error == "Move out of range"
        assert state.nozzle_temp == 21.5
        assert state.current_file == "x.gcode"
        assert Capability.FILAMENT_LOAD not in driver.capabilities
        with pytest.raises(PrinterUnreachable):  # JSON-RPC 503
            await driver.pause()
        with pytest.raises(RpcError, match="not paused"):
            await driver.resume()
        with pytest.raises(CommandTimeout):
            await driver.send_gcode("G28")
        assert driver.connections == 1  # malformed frames did not break the socket
    finally:
        await driver.close()


async def test_webcam_snapshot_and_speed(
    make_driver: Callable[..., MoonrakerDriver], peer: MoonrakerPeer
) -> None:
    runner, url = await start_fake_webcam()
    try:
        peer.post(
            "/server/webcams/item", {"name": "apf-test", "snapshot_url": url, "stream_url": url}
        )
        driver = make_driver()
        await driver.connect()
        await wait_for(driver, lambda s: Capability.CAMERA in driver.capabilities, timeout=30)
        image = await driver.snapshot()
        assert image.startswith(b"\xff\xd8")
        await driver.set_speed("sport")
        await wait_for(driver, lambda s: s.speed_percent == 124, timeout=30)
        await driver.set_speed("standard")
        await wait_for(driver, lambda s: s.speed_percent == 100, timeout=30)
    finally:
        with contextlib.suppress(Exception):
            peer.post("/server/webcams/delete_item?name=apf-test")
        await runner.cleanup()


def test_unpowered_mcu_is_offline_with_the_reason() -> None:
    driver = MoonrakerDriver(ConnectionConfig("moonraker", {"url": "http://127.0.0.1:1"}))
    driver._objects["webhooks"] = {
        "state": "error",
        "state_message": "mcu 'mcu': Unable to connect\n",
    }
    driver._recompute()
    assert driver.state.status is Status.OFFLINE
    assert driver.state.offline_reason == "Klipper is not ready: mcu 'mcu': Unable to connect"


async def test_klipper_error_result_is_cleared_by_a_bed_clear() -> None:
    driver = MoonrakerDriver(ConnectionConfig("moonraker", {"url": "http://127.0.0.1:1"}))
    driver._klippy_ready.set()
    driver._objects.update(
        webhooks={"state": "ready"},
        print_stats={"state": "error", "message": "Move out of range", "filename": "a.gcode"},
    )
    driver._recompute()
    assert driver.state.status is Status.ERROR
    driver.clear_result()
    assert driver.state.status is Status.IDLE and driver.state.error is None
    driver._merge({"print_stats": {"state": "printing", "filename": "b.gcode"}})
    driver._merge({"print_stats": {"state": "error", "filename": "b.gcode"}})
    assert driver.state.status is Status.ERROR  # a new failure counts again


async def test_power_devices_at_the_real_moonraker(
    make_driver: Callable[..., MoonrakerDriver], peer: MoonrakerPeer
) -> None:
    """The peer's ``[power caselight]`` is a ``klipper_device`` on the light's output pin."""
    driver = make_driver()
    await driver.connect()
    await wait_for(driver, lambda s: Capability.POWER in driver.capabilities, timeout=30)
    await driver.set_power(LIGHT_PIN, True)
    devices = await driver.power_devices()
    assert [(d.name, d.on) for d in devices] == [(LIGHT_PIN, True)]
    await driver.set_power(LIGHT_PIN, False)
    assert [(d.name, d.on) for d in await driver.power_devices()] == [(LIGHT_PIN, False)]
    with pytest.raises(DriverError) as info:
        await driver.set_power("kettle", True)
    assert info.value.code == "INVALID_DEVICE"
