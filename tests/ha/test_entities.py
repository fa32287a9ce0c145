"""Commands from entities: buttons, light, switch, numbers, image, event; error mapping."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from http import HTTPStatus
from unittest.mock import MagicMock

import pytest
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN
from homeassistant.components.button import SERVICE_PRESS
from homeassistant.components.light import DOMAIN as LIGHT_DOMAIN
from homeassistant.components.number import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.number import DOMAIN as NUMBER_DOMAIN
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from pytest_homeassistant_custom_component.common import async_capture_events

from custom_components.autoprintfarm.apf_client import (
    APFAuthenticationError,
    APFConnectionError,
    APFError,
    APFInsufficientScopeError,
    APFNotFoundError,
    CommandResult,
    FarmEvent,
    Job,
    Printer,
)
from custom_components.autoprintfarm.const import DOMAIN, EVENT_APF

from .conftest import PRUSA, FakeFarm, make_event

pytestmark = pytest.mark.usefixtures("init_integration")


async def press(hass: HomeAssistant, entity_id: str) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )


@pytest.mark.parametrize(
    ("entity_id", "method", "args"),
    [
        (f"button.{PRUSA}_pause", "pause", ("p1",)),
        (f"button.{PRUSA}_resume", "resume", ("p1",)),
        (f"button.{PRUSA}_stop", "stop", ("p1",)),
        (f"button.{PRUSA}_clear_bed", "clear_bed", ("p1", "success")),
        (f"button.{PRUSA}_clear_bed_failed_re_queue", "clear_bed", ("p1", "failed")),
    ],
)
async def test_buttons(
    hass: HomeAssistant, mock_client: MagicMock, entity_id: str, method: str, args: tuple[str, ...]
) -> None:
    calls = mock_client.printers.await_count
    await press(hass, entity_id)
    getattr(mock_client, method).assert_awaited_once_with(*args)
    assert mock_client.printers.await_count == calls + 1  # refreshed after the command


async def test_clear_bed_button_resets_flag(
    hass: HomeAssistant, event_queue: asyncio.Queue[FarmEvent], fake_farm: FakeFarm
) -> None:
    fake_farm.statuses["p1"] = fake_farm.statuses["p1"].__class__(
        printer_id="p1", status="idle", hub_online=True
    )
    await event_queue.put(
        make_event(1, "printer.bed_clear_required", {"printer_id": "p1", "status": "idle"})
    )
    await hass.async_block_till_done()
    assert hass.states.get(f"binary_sensor.{PRUSA}_awaiting_bed_clear").state == "on"
    await press(hass, f"button.{PRUSA}_clear_bed")
    assert hass.states.get(f"binary_sensor.{PRUSA}_awaiting_bed_clear").state == "off"


@pytest.mark.parametrize(
    ("error", "exception", "key"),
    [
        (APFConnectionError("timeout"), HomeAssistantError, "communication_error"),
        (
            APFInsufficientScopeError("needs control", status=403),
            HomeAssistantError,
            "insufficient_scope",
        ),
        (APFNotFoundError("gone", status=404), ServiceValidationError, "not_found"),
        (
            APFError("wrong state", code="INVALID_STATE", status=409),
            ServiceValidationError,
            "rejected",
        ),
        (
            APFError("hub offline", code="HUB_OFFLINE", status=503),
            HomeAssistantError,
            "server_error",
        ),
    ],
)
async def test_button_errors(
    hass: HomeAssistant,
    mock_client: MagicMock,
    error: Exception,
    exception: type[Exception],
    key: str,
) -> None:
    mock_client.pause.side_effect = error
    with pytest.raises(exception) as info:
        await press(hass, f"button.{PRUSA}_pause")
    assert info.value.translation_key == key
    assert info.value.translation_domain == DOMAIN


async def test_button_auth_error_starts_reauth(hass: HomeAssistant, mock_client: MagicMock) -> None:
    mock_client.stop.side_effect = APFAuthenticationError(
        "revoked", code="TOKEN_REVOKED", status=401
    )
    with pytest.raises(HomeAssistantError, match="re-authenticate") as info:
        await press(hass, f"button.{PRUSA}_stop")
    assert info.value.translation_key == "auth_failed"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["source"] == SOURCE_REAUTH


async def test_light_follows_server(hass: HomeAssistant, mock_client: MagicMock) -> None:
    mock_client.set_light.return_value = CommandResult(printer_id="p1")
    await hass.services.async_call(
        LIGHT_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: f"light.{PRUSA}_light"}, blocking=True
    )
    mock_client.set_light.assert_awaited_once_with("p1", False)
    # The server still reports the light on: the entity shows what the server says.
    state = hass.states.get(f"light.{PRUSA}_light")
    assert state.state == "on"
    assert "assumed_state" not in state.attributes


async def test_light_assumed_state(
    hass: HomeAssistant,
    mock_client: MagicMock,
    event_queue: asyncio.Queue[FarmEvent],
    fake_farm: FakeFarm,
) -> None:
    """A server that does not report the light's state: optimistic, assumed state."""
    fake_farm.statuses["p1"] = replace(fake_farm.statuses["p1"], status="idle", light_on=None)
    # the server's status push says light_on null (a push without the key keeps the last value)
    push = {"printer_id": "p1", "status": "idle", "light_on": None}
    await event_queue.put(make_event(1, "printer.status", push))
    await hass.async_block_till_done()
    assert hass.states.get(f"light.{PRUSA}_light").state == "unknown"
    await hass.services.async_call(
        LIGHT_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: f"light.{PRUSA}_light"}, blocking=True
    )
    state = hass.states.get(f"light.{PRUSA}_light")
    assert state.state == "on"
    assert state.attributes["assumed_state"] is True
    await hass.services.async_call(
        LIGHT_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: f"light.{PRUSA}_light"}, blocking=True
    )
    assert hass.states.get(f"light.{PRUSA}_light").state == "off"


async def test_maintenance_switch(
    hass: HomeAssistant, mock_client: MagicMock, fake_farm: FakeFarm
) -> None:
    def _maintenance(pid: str, on: bool, maintenance_type: str | None = None) -> Printer:
        fake_farm.printers = [
            replace(p, in_maintenance=on) if p.id == pid else p for p in fake_farm.printers
        ]
        return next(p for p in fake_farm.printers if p.id == pid)

    mock_client.set_maintenance.side_effect = _maintenance
    await hass.services.async_call(
        SWITCH_DOMAIN,
        SERVICE_TURN_ON,
        {ATTR_ENTITY_ID: "switch.bambu_two_maintenance_mode"},
        blocking=True,
    )
    assert hass.states.get("switch.bambu_two_maintenance_mode").state == "on"
    await hass.services.async_call(
        SWITCH_DOMAIN,
        SERVICE_TURN_OFF,
        {ATTR_ENTITY_ID: "switch.bambu_two_maintenance_mode"},
        blocking=True,
    )
    assert hass.states.get("switch.bambu_two_maintenance_mode").state == "off"
    assert mock_client.set_maintenance.await_count == 2


async def test_switch_reports_server_error(hass: HomeAssistant, mock_client: MagicMock) -> None:
    mock_client.set_maintenance.side_effect = APFError(
        "printing", code="PRINTER_PRINTING", status=409
    )
    with pytest.raises(ServiceValidationError, match="PRINTER_PRINTING"):
        await hass.services.async_call(
            SWITCH_DOMAIN,
            SERVICE_TURN_ON,
            {ATTR_ENTITY_ID: f"switch.{PRUSA}_maintenance_mode"},
            blocking=True,
        )


@pytest.mark.parametrize(
    ("entity_id", "heater", "value"),
    [
        (f"number.{PRUSA}_nozzle_target", "nozzle", 220.0),
        (f"number.{PRUSA}_bed_target", "bed", 65.0),
    ],
)
async def test_heater_targets(
    hass: HomeAssistant, mock_client: MagicMock, entity_id: str, heater: str, value: float
) -> None:
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: entity_id, ATTR_VALUE: value},
        blocking=True,
    )
    mock_client.set_temperature.assert_awaited_once_with("p1", heater, value)


async def test_thumbnail_image(
    hass: HomeAssistant,
    hass_client,
    mock_client: MagicMock,
    event_queue: asyncio.Queue[FarmEvent],
    fake_farm: FakeFarm,
) -> None:
    client = await hass_client()
    resp = await client.get(f"/api/image_proxy/image.{PRUSA}_job_thumbnail")
    assert resp.status == HTTPStatus.OK
    assert await resp.read() == b"\x89PNG\r\n\x1a\nthumb"
    mock_client.file_thumbnail.assert_awaited_with("f1")
    # idle printer: no image
    resp = await client.get("/api/image_proxy/image.bambu_two_job_thumbnail")
    assert resp.status == HTTPStatus.INTERNAL_SERVER_ERROR
    # the job changes to one without a thumbnail
    mock_client.file_thumbnail.side_effect = APFConnectionError("down")
    fake_farm.jobs["j1"] = Job.from_dict(
        {
            "id": "j1",
            "status": "printing",
            "printer_id": "p1",
            "print_file_id": "f2",
            "file_name": "b.gcode",
        }
    )
    await event_queue.put(
        make_event(
            1,
            "job.started",
            {
                "id": "j1",
                "status": "printing",
                "printer_id": "p1",
                "print_file_id": "f2",
                "file_name": "b.gcode",
            },
        )
    )
    await hass.async_block_till_done()
    resp = await client.get(f"/api/image_proxy/image.{PRUSA}_job_thumbnail")
    assert resp.status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert hass.states.get(f"sensor.{PRUSA}_current_file").state == "b.gcode"


async def test_event_entity_fires(
    hass: HomeAssistant, event_queue: asyncio.Queue[FarmEvent]
) -> None:
    await event_queue.put(
        make_event(
            41,
            "job.failed",
            {"id": "j1", "status": "failed", "printer_id": "p1", "failure_reason": "spaghetti"},
        )
    )
    await event_queue.put(
        make_event(42, "order.created", {"id": "o1"})
    )  # farm-level: not a printer event
    await hass.async_block_till_done()
    state = hass.states.get(f"event.{PRUSA}_printer_event")
    assert state.attributes["event_type"] == "print_failed"
    assert state.attributes["event_id"] == 41
    assert state.attributes["job_id"] == "j1"
    assert hass.states.get("event.bambu_two_printer_event").state == "unknown"


async def test_a_paused_job_event_carries_the_printer_messages(
    hass: HomeAssistant, event_queue: asyncio.Queue[FarmEvent]
) -> None:
    runout = {
        "code": "HMS_0700_2000_0002_0001",
        "severity": "error",
        "text": "AMS A Slot 1 filament has run out",
        "url": "https://e.bambulab.com/index.php?e=0700200000020001&s=device_hms&lang=en",
    }
    bus_events = async_capture_events(hass, EVENT_APF)
    await event_queue.put(
        make_event(
            43,
            "job.paused",
            {"id": "j1", "status": "paused", "printer_id": "p1", "messages": [runout]},
        )
    )
    await hass.async_block_till_done()
    assert [e.data["type"] for e in bus_events] == ["print_paused"]
    assert bus_events[0].data["data"]["messages"] == [runout]
    state = hass.states.get(f"event.{PRUSA}_printer_event")
    assert state.attributes["event_type"] == "print_paused"
    assert state.attributes["messages"] == [runout]
