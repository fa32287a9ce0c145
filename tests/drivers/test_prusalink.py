"""The PrusaLink driver against a fake PrusaLink with real digest authentication."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from apf_core.drivers import create_driver
from apf_core.drivers.base import (
    AuthenticationFailed,
    CapabilityNotSupported,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PrinterUnreachable,
    Status,
)
from apf_core.drivers.prusalink import DigestAuth, PrusaLinkDriver, parse_challenge
from tests.drivers._prusalink_peer import REALM, FakePrusaLink
from tests.drivers.conftest import wait_for, wait_for_status

MakeDriver = Callable[..., PrusaLinkDriver]


# --- digest helper ---------------------------------------------------------------


def test_parse_challenge() -> None:
    header = 'Digest realm="Printer API", nonce="abc", qop="auth,auth-int", opaque="x,y"'
    assert parse_challenge(header) == {
        "realm": "Printer API",
        "nonce": "abc",
        "qop": "auth,auth-int",
        "opaque": "x,y",
    }
    assert parse_challenge('Basic realm="x"') is None
    assert parse_challenge("Digest garbage") is None


def test_digest_response_matches_rfc_example() -> None:
    """RFC 2617 section 3.5 example (MD5, qop=auth), with its fixed cnonce."""
    auth = DigestAuth("Mufasa", "Circle Of Life")
    auth.accept(
        'Digest realm="testrealm@host.com", qop="auth,auth-int", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    header = auth.header("GET", "/dir/index.html")
    assert header is not None
    cnonce = header.split('cnonce="')[1].split('"')[0]
    ha1 = hashlib.md5(b"Mufasa:testrealm@host.com:Circle Of Life").hexdigest()
    ha2 = hashlib.md5(b"GET:/dir/index.html").hexdigest()
    nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    expected = hashlib.md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()
    assert f'response="{expected}"' in header
    assert "nc=00000001" in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header
    assert "nc=00000002" in (auth.header("GET", "/") or "")  # the count goes up per request


def test_digest_rejects_unknown_algorithm() -> None:
    auth = DigestAuth("u", "p")
    with pytest.raises(AuthenticationFailed, match="unsupported"):
        auth.accept('Digest realm="r", nonce="n", algorithm=SHA-512-256')


# --- against the fake printer ------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakePrusaLink, str]]:
    printer = FakePrusaLink(print_seconds=2.0)
    runner = web.AppRunner(printer.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield printer, f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def make_driver(fake: tuple[FakePrusaLink, str]) -> AsyncIterator[MakeDriver]:
    printer, url = fake
    drivers: list[PrusaLinkDriver] = []

    def build(**options: Any) -> PrusaLinkDriver:
        options = {
            "url": url,
            "username": printer.username,
            "password": printer.password,
            "poll_interval": 0.1,
            "reconnect_max": 0.2,
            **options,
        }
        driver = create_driver(ConnectionConfig("prusalink", options))
        assert isinstance(driver, PrusaLinkDriver)
        drivers.append(driver)
        return driver

    yield build
    for driver in drivers:
        await driver.close()


@pytest.fixture
def gcode(tmp_path: Path) -> Path:
    path = tmp_path / "part.gcode"
    path.write_text("G28\nG1 X10 Y10\n" * 50)
    return path


async def test_connect_reads_status(make_driver: MakeDriver) -> None:
    driver = make_driver()
    await driver.connect()
    state = driver.state
    assert state.status is Status.IDLE
    assert (state.nozzle_temp, state.bed_temp) == (24.5, 23.9)
    assert state.progress is None
    assert state.layer_num is None


async def test_wrong_password(fake: tuple[FakePrusaLink, str], make_driver: MakeDriver) -> None:
    printer, _ = fake
    driver = make_driver(password="wrong")
    with pytest.raises(AuthenticationFailed, match="rejected the user name or password"):
        await driver.connect()
    assert driver.state.status is Status.OFFLINE
    assert printer.requests == []  # nothing was served without valid credentials


async def test_wrong_user(make_driver: MakeDriver) -> None:
    with pytest.raises(AuthenticationFailed):
        await make_driver(username="admin").connect()


async def test_digest_with_qop(fake: tuple[FakePrusaLink, str], make_driver: MakeDriver) -> None:
    printer, _ = fake
    printer.use_qop = True  # RFC 7616 style, as the Raspberry Pi PrusaLink answers
    driver = make_driver()
    await driver.connect()
    assert driver.state.status is Status.IDLE


async def test_nonce_is_reused(fake: tuple[FakePrusaLink, str], make_driver: MakeDriver) -> None:
    printer, _ = fake
    driver = make_driver()
    await driver.connect()
    for _ in range(50):
        if len(printer.requests) >= 4:
            break
        await asyncio.sleep(0.1)
    assert len(printer.requests) >= 4, "the driver keeps polling"
    assert printer.rejected_auth == 1  # one challenge, then every poll authenticates at once


async def test_print_lifecycle(
    fake: tuple[FakePrusaLink, str], make_driver: MakeDriver, gcode: Path
) -> None:
    printer, _ = fake
    printer.print_seconds = 120.0
    driver = make_driver()
    await driver.connect()
    await driver.start_print(gcode, "apf part.gcode")
    assert printer.files["apf part.gcode"] == gcode.read_bytes()
    state = driver.state
    assert state.status is Status.PRINTING
    assert state.current_file == "apf part.gcode"
    assert state.remaining_time_minutes == 2

    await driver.pause()
    assert driver.state.status is Status.PAUSED
    assert printer.printer_state() == "PAUSED"
    await driver.resume()
    assert driver.state.status is Status.PRINTING
    with pytest.raises(DriverError, match="409"):
        await driver.resume()  # not paused

    await driver.stop()
    assert driver.state.status is Status.CANCELLED
    assert printer.printer_state() == "STOPPED"
    with pytest.raises(DriverError, match="409"):
        await driver.stop()


async def test_print_finishes(
    fake: tuple[FakePrusaLink, str], make_driver: MakeDriver, gcode: Path
) -> None:
    printer, _ = fake
    printer.print_seconds = 0.5
    driver = make_driver()
    await driver.connect()
    await driver.start_print(gcode, "part.gcode")
    state = await wait_for_status(driver, Status.FINISHED)
    assert (state.progress, state.remaining_time_minutes) == (100, 0)
    assert state.current_file == "part.gcode"


async def test_start_while_printing_is_refused(
    fake: tuple[FakePrusaLink, str], make_driver: MakeDriver, gcode: Path
) -> None:
    printer, _ = fake
    printer.print_seconds = 120.0
    driver = make_driver()
    await driver.connect()
    await driver.start_print(gcode, "a.gcode")
    with pytest.raises(DriverError, match="busy"):
        await driver.start_print(gcode, "b.gcode")


async def test_pause_without_job(make_driver: MakeDriver) -> None:
    driver = make_driver()
    await driver.connect()
    with pytest.raises(DriverError, match="no print job"):
        await driver.pause()


async def test_attention_pauses_with_the_reason(
    fake: tuple[FakePrusaLink, str], make_driver: MakeDriver, tmp_path: Path
) -> None:
    """Buddy's ATTENTION (runout, crash recovery, a question): the job is still there."""
    printer, _ = fake
    printer.print_seconds = 60
    driver = make_driver()
    await driver.connect()
    path = tmp_path / "part.gcode"
    path.write_text("G28\n")
    await driver.start_print(path, "part.gcode")
    await wait_for_status(driver, Status.PRINTING)
    printer.fault = "Filament runout"
    state = await wait_for_status(driver, Status.PAUSED)
    assert state.error is None
    (message,) = state.messages
    assert message.code == "PRUSALINK_ATTENTION" and "Filament runout" in message.text
    assert state.current_file == "part.gcode"
    printer.fault = None
    state = await wait_for_status(driver, Status.PRINTING)
    assert state.messages == ()


async def test_busy_is_not_a_print(
    fake: tuple[FakePrusaLink, str], make_driver: MakeDriver
) -> None:
    printer, _ = fake
    driver = make_driver()
    await driver.connect()
    printer.busy = True
    state = await wait_for(driver, lambda s: bool(s.messages))
    assert state.status is Status.IDLE
    assert state.messages[0].code == "PRUSALINK_BUSY"


async def test_old_firmware_says_why(
    fake: tuple[FakePrusaLink, str], make_driver: MakeDriver
) -> None:
    printer, _ = fake
    printer.legacy = True
    driver = make_driver()
    await driver.connect()
    state = driver.state
    assert state.status is Status.OFFLINE
    assert (
        state.offline_reason is not None and "update the printer firmware" in state.offline_reason
    )


async def test_unavailable_then_back(
    fake: tuple[FakePrusaLink, str], make_driver: MakeDriver
) -> None:
    printer, _ = fake
    driver = make_driver()
    await driver.connect()
    printer.unavailable = True
    state = await wait_for_status(driver, Status.OFFLINE)
    assert state.error is not None
    assert "503" in state.error
    printer.unavailable = False
    await wait_for_status(driver, Status.IDLE)


async def test_unreachable(make_driver: MakeDriver) -> None:
    driver = make_driver(url="http://127.0.0.1:9")  # discard port: nothing listens
    await driver.connect()
    assert driver.state.status is Status.OFFLINE
    with pytest.raises(PrinterUnreachable):
        await driver.pause()


async def test_missing_file(make_driver: MakeDriver, tmp_path: Path) -> None:
    driver = make_driver()
    await driver.connect()
    with pytest.raises(DriverError, match="cannot read"):
        await driver.start_print(tmp_path / "nope.gcode", "nope.gcode")


async def test_unsupported_features(make_driver: MakeDriver) -> None:
    driver = make_driver()
    await driver.connect()
    for command in (
        driver.set_temperature("nozzle", 200),
        driver.home(),
        driver.send_gcode("G28"),
        driver.set_light(True),
        driver.load_filament(254, 210),
        driver.unload_filament(),
    ):
        with pytest.raises(CapabilityNotSupported):
            await command


async def test_realm_and_user_in_challenge(fake: tuple[FakePrusaLink, str]) -> None:
    """The fake challenges like Buddy firmware: digest, realm, MD5 and no qop."""
    _, url = fake
    async with aiohttp.ClientSession() as session, session.get(url + "/api/v1/status") as response:
        assert response.status == 401
        challenge = parse_challenge(response.headers["WWW-Authenticate"])
    assert challenge is not None
    assert challenge["realm"] == REALM
    assert "qop" not in challenge


async def test_slow_printer_times_out(
    fake: tuple[FakePrusaLink, str], make_driver: MakeDriver, gcode: Path
) -> None:
    printer, _ = fake
    printer.print_seconds = 120.0
    driver = make_driver(timeout=0.3)
    await driver.connect()
    await driver.start_print(gcode, "part.gcode")
    printer.delay_s = 1.0
    with pytest.raises(CommandTimeout):
        await driver.pause()
    printer.delay_s = 0.0
    await wait_for_status(driver, Status.PRINTING)  # still tracked after the timeout


async def test_legacy_api_key(fake: tuple[FakePrusaLink, str], make_driver: MakeDriver) -> None:
    printer, _ = fake
    printer.api_key = "0123456789abcdef"
    driver = make_driver(password=None, api_key="0123456789abcdef")
    await driver.connect()
    assert driver.state.status is Status.IDLE
    assert printer.rejected_auth == 0
    with pytest.raises(AuthenticationFailed):
        await make_driver(password=None, api_key="wrong").connect()
