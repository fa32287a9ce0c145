"""Config flow bad input over the wire (real ApfClient, no mock): every case ends in a translated
form error, never an exception or a traceback in Home Assistant's log."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from unittest.mock import MagicMock, patch

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.autoprintfarm.const import DOMAIN

from .conftest import API_KEY, load_json

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(autouse=True)
def mock_setup_entry() -> Generator[MagicMock]:
    with patch("custom_components.autoprintfarm.async_setup_entry", return_value=True) as mock:
        yield mock


@pytest.fixture(autouse=True)
def _no_traceback_logged(caplog: pytest.LogCaptureFixture) -> Generator[None]:
    yield
    noisy = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not noisy, [r.getMessage() for r in noisy]


async def submit(hass: HomeAssistant, url: str, key: str = API_KEY) -> dict:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    return await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: url, CONF_API_KEY: key}
    )


async def serve(handler: web.Handler) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def html_site() -> AsyncIterator[str]:
    """Some other web site (a router page): HTML for everything, 404 under /public/v1."""

    async def handler(request: web.Request) -> web.Response:
        status = 404 if request.path.startswith("/public") else 200
        return web.Response(status=status, text="<html>Router</html>", content_type="text/html")

    async for url in serve(handler):
        yield url


@pytest.fixture
async def html_200_site() -> AsyncIterator[str]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<html>Welcome</html>", content_type="text/html")

    async for url in serve(handler):
        yield url


@pytest.fixture
async def other_api_server() -> AsyncIterator[str]:
    """An AutoPrintFarm-like server speaking another API version."""

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/public/v1/server":
            server = {**load_json("server.json"), "api": "autoprintfarm-public-v2"}
            return web.json_response({"success": True, "data": server})
        return web.json_response({"success": True, "data": []})

    async for url in serve(handler):
        yield url


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_server(hass: HomeAssistant) -> None:
    result = await submit(hass, f"http://127.0.0.1:{closed_port()}")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_wrong_url_another_site(hass: HomeAssistant, html_site: str) -> None:
    result = await submit(hass, html_site)
    assert result["errors"] == {"base": "not_apf_server"}


async def test_wrong_url_html_page(hass: HomeAssistant, html_200_site: str) -> None:
    result = await submit(hass, html_200_site)
    assert result["errors"] == {"base": "not_apf_server"}


async def test_server_of_another_api_version(hass: HomeAssistant, other_api_server: str) -> None:
    result = await submit(hass, other_api_server)
    assert result["errors"] == {"base": "unsupported_api"}


async def test_real_server_keys(
    hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real APF server: a key without the read scope, a wrong key, then a read-only key
    (accepted: the missing write/control scopes become a repair issue once set up)."""
    testing = pytest.importorskip("apf_core.testing")
    from apf_core.services.keys import KeyService

    monkeypatch.setenv("APF_AUTO_DISPATCH", "0")
    async with testing.running_farm(tmp_path / "farm", demo=True) as farm:
        keys = KeyService(farm.farm.db)
        write_only, _ = await keys.create("write-only", ["write"])
        read_only, _ = await keys.create("read-only", ["read"])
        result = await submit(hass, farm.url, write_only)
        assert result["errors"] == {CONF_API_KEY: "insufficient_scope"}
        result = await submit(hass, farm.url, "apf_live_" + "0" * 64)
        assert result["errors"] == {CONF_API_KEY: "invalid_auth"}
        result = await submit(hass, farm.url, read_only)
        assert result["type"] is FlowResultType.CREATE_ENTRY
