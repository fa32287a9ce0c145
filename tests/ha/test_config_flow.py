"""Config flow: every step and error branch, with recovery."""

from __future__ import annotations

from collections.abc import Generator
from ipaddress import ip_address
from unittest.mock import MagicMock, patch

import pytest
from homeassistant.config_entries import SOURCE_USER, SOURCE_ZEROCONF
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.autoprintfarm.apf_client import (
    APFAuthenticationError,
    APFConnectionError,
    APFError,
    APFInsufficientScopeError,
    ServerInfo,
)
from custom_components.autoprintfarm.config_flow import normalize_url
from custom_components.autoprintfarm.const import CONF_SCAN_INTERVAL, DOMAIN

from .conftest import API_KEY, SERVER_ID, URL

NEW_KEY = "apf_live_" + "cd" * 32

pytestmark = pytest.mark.usefixtures("mock_client")


@pytest.fixture(autouse=True)
def mock_setup_entry() -> Generator[MagicMock]:
    with patch("custom_components.autoprintfarm.async_setup_entry", return_value=True) as mock:
        yield mock


def zeroconf_info(
    properties: dict[str, str] | None = None, ip: str = "192.168.1.20"
) -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address(ip),
        ip_addresses=[ip_address(ip)],
        hostname="farm.local.",
        name="Garage Farm._autoprintfarm._tcp.local.",
        port=8080,
        type="_autoprintfarm._tcp.local.",
        properties={"server_id": SERVER_ID, "name": "Garage Farm", **(properties or {})},
    )


async def test_user_flow(hass: HomeAssistant, mock_client: MagicMock) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://farm.local:8080/", CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Garage Farm"
    assert result["data"] == {CONF_URL: URL, CONF_API_KEY: API_KEY}
    assert result["result"].unique_id == SERVER_ID
    mock_client.printers.assert_awaited()


@pytest.mark.parametrize(
    ("side_effect", "errors"),
    [
        (APFConnectionError("down"), {"base": "cannot_connect"}),
        (
            APFAuthenticationError("bad", code="TOKEN_INVALID", status=401),
            {CONF_API_KEY: "invalid_auth"},
        ),
        (APFInsufficientScopeError("scope", status=403), {CONF_API_KEY: "insufficient_scope"}),
        (APFError("teapot", status=418), {"base": "not_apf_server"}),
        (RuntimeError("boom"), {"base": "unknown"}),
    ],
)
async def test_user_flow_errors_recover(
    hass: HomeAssistant, mock_client: MagicMock, side_effect: Exception, errors: dict[str, str]
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    mock_client.server_info.side_effect = side_effect
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: URL, CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    mock_client.server_info.side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: URL, CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_invalid_url(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "ftp://farm", CONF_API_KEY: API_KEY}
    )
    assert result["errors"] == {CONF_URL: "invalid_url"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "farm.local:8080", CONF_API_KEY: API_KEY}
    )
    assert result["errors"] == {CONF_URL: "invalid_url"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://farm.local:8080/", "http://farm.local:8080"),
        ("https://farm.example/apf/?x=1#y", "https://farm.example/apf"),
        ("  http://10.0.0.2  ", "http://10.0.0.2"),
        ("ftp://farm", None),
        ("http://", None),
        ("http://[::1", None),
    ],
)
def test_normalize_url(raw: str, expected: str | None) -> None:
    assert normalize_url(raw) == expected


async def test_user_flow_already_configured(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://other:8080", CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_zeroconf_flow(hass: HomeAssistant, mock_client: MagicMock) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=zeroconf_info()
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"] == {
        "name": "Garage Farm",
        "url": "http://192.168.1.20:8080",
    }
    mock_client.server_info.side_effect = APFAuthenticationError("no", status=401)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "bad"}
    )
    assert result["errors"] == {CONF_API_KEY: "invalid_auth"}
    mock_client.server_info.side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: "http://192.168.1.20:8080", CONF_API_KEY: API_KEY}
    assert result["result"].unique_id == SERVER_ID


async def test_zeroconf_ipv6_tls_path_without_server_id(hass: HomeAssistant) -> None:
    info = zeroconf_info({"tls": "true", "path": "/apf/public/v1", "server_id": ""}, ip="fd00::20")
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=info
    )
    assert result["description_placeholders"]["url"] == "https://[fd00::20]:8080/apf"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == SERVER_ID


async def test_zeroconf_updates_moved_server(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=zeroconf_info(ip="192.168.1.99")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data[CONF_URL] == "http://192.168.1.99:8080"


async def test_zeroconf_confirm_already_configured(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    """Without server_id in TXT, the duplicate is found after the key is entered."""
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_ZEROCONF},
        data=zeroconf_info({"server_id": ""}, ip="192.168.1.77"),
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_config_entry.data[CONF_URL] == "http://192.168.1.77:8080"


async def test_zeroconf_same_url_aborts(hass: HomeAssistant) -> None:
    MockConfigEntry(
        domain=DOMAIN,
        unique_id="other",
        data={CONF_URL: "http://192.168.1.20:8080", CONF_API_KEY: API_KEY},
    ).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_ZEROCONF}, data=zeroconf_info({"server_id": ""})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_client: MagicMock
) -> None:
    mock_config_entry.add_to_hass(hass)
    result = await mock_config_entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    mock_client.server_info.side_effect = APFAuthenticationError(
        "revoked", code="TOKEN_REVOKED", status=401
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "old"}
    )
    assert result["errors"] == {CONF_API_KEY: "invalid_auth"}
    mock_client.server_info.side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: NEW_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert mock_config_entry.data[CONF_API_KEY] == NEW_KEY


async def test_reauth_wrong_farm(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_client: MagicMock
) -> None:
    mock_config_entry.add_to_hass(hass)
    mock_client.server_info.return_value = ServerInfo(server_id="another", name="Other")
    result = await mock_config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: NEW_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_farm"
    assert mock_config_entry.data[CONF_API_KEY] == API_KEY


async def test_reconfigure(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_client: MagicMock
) -> None:
    mock_config_entry.add_to_hass(hass)
    result = await mock_config_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "nonsense"}
    )
    assert result["errors"] == {CONF_URL: "invalid_url"}
    mock_client.server_info.side_effect = APFConnectionError("down")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://new:9000"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    mock_client.server_info.side_effect = None
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://new:9000"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert mock_config_entry.data == {CONF_URL: "http://new:9000", CONF_API_KEY: API_KEY}


async def test_reconfigure_new_key_and_wrong_farm(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_client: MagicMock
) -> None:
    mock_config_entry.add_to_hass(hass)
    result = await mock_config_entry.start_reconfigure_flow(hass)
    mock_client.server_info.return_value = ServerInfo(server_id="another", name="Other")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://new:9000", CONF_API_KEY: NEW_KEY}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_farm"
    assert mock_config_entry.data[CONF_URL] == URL


async def test_options_flow(hass: HomeAssistant, mock_config_entry: MockConfigEntry) -> None:
    mock_config_entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 12.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert mock_config_entry.options == {CONF_SCAN_INTERVAL: 12}
