"""Manual control from Home Assistant: camera, home/cool-down buttons, print speed, G-code, power."""

from __future__ import annotations

import logging
from dataclasses import replace
from http import HTTPStatus
from unittest.mock import MagicMock

import pytest
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN
from homeassistant.components.button import SERVICE_PRESS
from homeassistant.components.select import ATTR_OPTION, SERVICE_SELECT_OPTION
from homeassistant.components.select import DOMAIN as SELECT_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.autoprintfarm.apf_client import APFConnectionError, APFError
from custom_components.autoprintfarm.const import DOMAIN

from .conftest import PRUSA, FakeFarm, get_device

pytestmark = pytest.mark.usefixtures("init_integration")

CAMERA = f"camera.{PRUSA}_camera"
SPEED = f"select.{PRUSA}_print_speed"
PRINTING = APFError("Cannot gcode while printing", code="PRINTER_PRINTING", status=409)


async def refresh(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.farm.async_refresh()
    await hass.async_block_till_done()


def printer_device(hass: HomeAssistant, ident: str) -> str:
    device = get_device(hass, ident)
    assert device is not None
    return device.id


async def test_camera_picture_and_failures(
    hass: HomeAssistant, hass_client, mock_client: MagicMock, caplog: pytest.LogCaptureFixture
) -> None:
    client = await hass_client()
    resp = await client.get(f"/api/camera_proxy/{CAMERA}")
    assert resp.status == HTTPStatus.OK
    assert await resp.read() == b"\xff\xd8\xff\xe0jpeg"
    mock_client.camera_snapshot.assert_awaited_with("p1", timeout=20.0)

    # the server cannot get a picture: no image, one log line per outage, no traceback
    mock_client.camera_snapshot.side_effect = APFError(
        "printer does not support: camera (ffmpeg missing)", code="CAPABILITY_NOT_SUPPORTED"
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="custom_components.autoprintfarm"):
        for _ in range(3):
            resp = await client.get(f"/api/camera_proxy/{CAMERA}")
            assert resp.status == HTTPStatus.INTERNAL_SERVER_ERROR
        failures = [r for r in caplog.records if "No picture" in r.getMessage()]
        assert len(failures) == 1
        assert failures[0].exc_info is None
        mock_client.camera_snapshot.side_effect = None
        resp = await client.get(f"/api/camera_proxy/{CAMERA}")
        assert resp.status == HTTPStatus.OK
        assert any("gives pictures again" in r.getMessage() for r in caplog.records)


async def test_camera_unavailable_while_printer_off(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, fake_farm: FakeFarm
) -> None:
    assert hass.states.get(CAMERA).state == "idle"
    fake_farm.statuses["p1"] = replace(fake_farm.statuses["p1"], hub_online=False)
    await refresh(hass, mock_config_entry)
    assert hass.states.get(CAMERA).state == STATE_UNAVAILABLE


async def test_entities_follow_capabilities(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fake_farm: FakeFarm,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """p2 reports no capabilities: none of these; they appear once the server reports them."""
    names = (
        "camera.bambu_two_camera",
        "button.bambu_two_home_axes",
        "select.bambu_two_print_speed",
    )
    assert [hass.states.get(name) for name in names] == [None, None, None]
    assert hass.states.get("button.bambu_two_cool_down") is None
    fake_farm.printers[1] = replace(
        fake_farm.printers[1], capabilities=frozenset({"camera", "home", "speed", "heaters"})
    )
    await refresh(hass, mock_config_entry)
    for name in (*names, "button.bambu_two_cool_down"):
        assert hass.states.get(name) is not None, name
    # added once, not again on every refresh (Home Assistant would log the duplicate ids)
    await refresh(hass, mock_config_entry)
    assert len(hass.states.async_entity_ids("camera")) == 2
    assert "does not generate unique IDs" not in caplog.text


@pytest.mark.parametrize(
    ("entity_id", "method"),
    [(f"button.{PRUSA}_home_axes", "home"), (f"button.{PRUSA}_cool_down", "cooldown")],
)
async def test_home_and_cooldown_buttons(
    hass: HomeAssistant, mock_client: MagicMock, entity_id: str, method: str
) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )
    getattr(mock_client, method).assert_awaited_once_with("p1")


async def test_home_refused_while_printing(hass: HomeAssistant, mock_client: MagicMock) -> None:
    mock_client.home.side_effect = PRINTING
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            BUTTON_DOMAIN,
            SERVICE_PRESS,
            {ATTR_ENTITY_ID: f"button.{PRUSA}_home_axes"},
            blocking=True,
        )
    assert (info.value.translation_domain, info.value.translation_key) == (DOMAIN, "rejected")
    assert info.value.translation_placeholders["code"] == "PRINTER_PRINTING"


async def test_speed_select(
    hass: HomeAssistant,
    mock_client: MagicMock,
    mock_config_entry: MockConfigEntry,
    fake_farm: FakeFarm,
) -> None:
    assert hass.states.get(SPEED).state == "standard"
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: SPEED, ATTR_OPTION: "sport"},
        blocking=True,
    )
    mock_client.set_speed.assert_awaited_once_with("p1", "sport")
    # Klipper reports only the factor: the level with that percentage, else unknown
    fake_farm.statuses["p1"] = replace(
        fake_farm.statuses["p1"], speed_level=None, speed_percent=124.0
    )
    await refresh(hass, mock_config_entry)
    assert hass.states.get(SPEED).state == "sport"
    fake_farm.statuses["p1"] = replace(fake_farm.statuses["p1"], speed_percent=80.0)
    await refresh(hass, mock_config_entry)
    assert hass.states.get(SPEED).state == "unknown"


async def test_speed_select_error(hass: HomeAssistant, mock_client: MagicMock) -> None:
    mock_client.set_speed.side_effect = APFConnectionError("timeout")
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            SELECT_DOMAIN,
            SERVICE_SELECT_OPTION,
            {ATTR_ENTITY_ID: SPEED, ATTR_OPTION: "silent"},
            blocking=True,
        )
    assert info.value.translation_key == "communication_error"


async def test_send_gcode_action(hass: HomeAssistant, mock_client: MagicMock) -> None:
    target = printer_device(hass, "p1")
    await hass.services.async_call(
        DOMAIN, "send_gcode", {"device_id": target, "script": "G28\nM117 hi"}, blocking=True
    )
    mock_client.send_gcode.assert_awaited_once_with("p1", "G28\nM117 hi")
    mock_client.send_gcode.side_effect = PRINTING
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN, "send_gcode", {"device_id": target, "script": "G28"}, blocking=True
        )
    assert info.value.translation_key == "rejected"
    assert "while printing" in str(info.value)


async def test_set_power_action(hass: HomeAssistant, mock_client: MagicMock) -> None:
    target = printer_device(hass, "p1")
    await hass.services.async_call(
        DOMAIN,
        "set_power",
        {"device_id": target, "device": "printer", "state": "off"},
        blocking=True,
    )
    mock_client.set_power.assert_awaited_once_with("p1", "printer", False)
    mock_client.set_power.side_effect = APFError(
        "printer does not support: power", code="CAPABILITY_NOT_SUPPORTED", status=400
    )
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN,
            "set_power",
            {"device_id": target, "device": "printer", "state": True},
            blocking=True,
        )
    assert info.value.translation_placeholders["code"] == "CAPABILITY_NOT_SUPPORTED"
