"""The outbound guard: IP literals and resolved names checked at connect time."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web

from apf_core.drivers.base import AuthenticationFailed, ConnectionConfig
from apf_core.drivers.octoprint import OctoPrintDriver
from apf_core.net import RedactingFilter, guarded_session, parse_printer_url, redact
from apf_core.net.session import check_host, printer_policy
from apf_core.net.ssrf import BlockedAddress, SsrfPolicy


@pytest.fixture
async def listener(aiohttp_server):
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        return web.Response(text="secret body from the target")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    server = await aiohttp_server(app, host="127.0.0.1")
    server.seen = seen
    return server


async def test_printer_policy_reaches_the_same_host(listener) -> None:
    async with guarded_session() as session, session.get(listener.make_url("/api")) as resp:
        assert resp.status == 200
    assert listener.seen == ["/api"]


async def test_ip_literal_is_checked_at_connect_time(listener) -> None:
    strict = SsrfPolicy(allow_loopback=False)
    async with guarded_session(strict) as session:
        with pytest.raises(BlockedAddress, match="loopback"):
            await session.get(listener.make_url("/hook"))
        with pytest.raises(BlockedAddress, match="loopback"):  # IPv4-mapped IPv6 literal
            await session.get(f"http://[::ffff:127.0.0.1]:{listener.port}/hook")
    assert listener.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://100.100.100.200/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://0.0.0.0:80/",
    ],
)
async def test_link_local_and_metadata_refused_for_printers(url: str) -> None:
    async with guarded_session(timeout=aiohttp.ClientTimeout(total=2)) as session:
        with pytest.raises(BlockedAddress):
            await session.get(url)


async def test_link_local_can_be_allowed_explicitly(monkeypatch) -> None:
    monkeypatch.setenv("APF_PRINTER_ALLOWED_NETWORKS", "169.254.0.0/16")
    assert printer_policy().refusal(__import__("ipaddress").ip_address("169.254.10.20")) is None
    await check_host("169.254.10.20", 80)
    monkeypatch.delenv("APF_PRINTER_ALLOWED_NETWORKS")
    with pytest.raises(BlockedAddress):
        await check_host("169.254.10.20", 80)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/latest/meta-data/iam/security-credentials/?x=",
        "http://127.0.0.1/#",
        "http://127.0.0.1\\@evil/",
        "http://127.0.0.1/a b",
        "gopher://127.0.0.1/",
    ],
)
def test_query_fragment_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="octoprint"):
        OctoPrintDriver(ConnectionConfig("octoprint", {"url": url, "api_key": "k"}))


def test_printer_url_is_rebuilt_without_user_info() -> None:
    parsed = parse_printer_url("moonraker", "http://maker:s3cr%40t@10.0.0.5:7125/prefix/")
    assert parsed.base == "http://10.0.0.5:7125/prefix"
    assert parsed.auth is not None and parsed.auth.password == "s3cr@t"
    assert parsed.ws_base == "ws://10.0.0.5:7125/prefix"
    assert parse_printer_url("x", host="::1", port=5000).base == "http://[::1]:5000"


async def test_driver_requests_only_its_own_paths(listener) -> None:
    """The issue's attack: a printer URL whose query swallowed the driver's path."""
    url = f"http://127.0.0.1:{listener.port}/latest/meta-data/iam/security-credentials"
    driver = OctoPrintDriver(ConnectionConfig("octoprint", {"url": url, "api_key": "k"}))
    with pytest.raises(AuthenticationFailed):  # the listener is no OctoPrint
        await driver.connect()
    await driver.close()
    assert listener.seen, "the driver made no request"
    assert all(p.startswith("/latest/meta-data/iam/security-credentials/api") for p in listener.seen)


def test_log_lines_are_redacted(caplog) -> None:
    logger = logging.getLogger("apf_core.test_redact")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("moonraker %s: failed", "http://maker:hunter2@10.0.0.5:7125")
    finally:
        logger.removeHandler(handler)
    assert records == ["moonraker http://***@10.0.0.5:7125: failed"]
    assert redact("ws://u@h/x https://a:b@c") == "ws://***@h/x https://***@c"
