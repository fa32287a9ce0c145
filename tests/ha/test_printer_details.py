"""What printer-integration users expect: print start time, trays, error text and messages,
offline reason, and a repair issue when the API key lacks scopes."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import MagicMock

import pytest
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

from custom_components.autoprintfarm.apf_client import FarmEvent, ServerInfo
from custom_components.autoprintfarm.const import DOMAIN, EVENT_APF
from custom_components.autoprintfarm.issues import missing_scopes_issue_id

from .conftest import PRUSA, load_json, make_event


async def push_status(
    hass: HomeAssistant, queue: asyncio.Queue[FarmEvent], event_id: int, **changes: Any
) -> None:
    await queue.put(
        make_event(event_id, "printer.status", {**load_json("status_p1.json"), **changes})
    )
    for _ in range(3):
        await hass.async_block_till_done()


@pytest.mark.usefixtures("init_integration")
async def test_print_start_time_and_offline_reason(
    hass: HomeAssistant, event_queue: asyncio.Queue[FarmEvent]
) -> None:
    started = hass.states.get(f"sensor.{PRUSA}_print_start_time")
    assert started.state == "2026-11-21T10:45:00+00:00"
    assert started.attributes["device_class"] == "timestamp"
    assert hass.states.get(f"sensor.{PRUSA}_offline_reason").state == STATE_UNKNOWN
    reason = hass.states.get("sensor.bambu_two_offline_reason").state
    assert reason == "No answer from 192.168.1.42 (connection timed out)"
    # the printer goes off: no start time, and the server's reason shows
    await push_status(
        hass, event_queue, 11, hub_online=False, status="offline", offline_reason="Powered off"
    )
    assert hass.states.get(f"sensor.{PRUSA}_print_start_time").state == STATE_UNKNOWN
    assert hass.states.get(f"sensor.{PRUSA}_offline_reason").state == "Powered off"


@pytest.mark.usefixtures("init_integration")
async def test_error_text_and_messages(
    hass: HomeAssistant, event_queue: asyncio.Queue[FarmEvent]
) -> None:
    state = hass.states.get(f"sensor.{PRUSA}_error_message")
    assert state.state == STATE_UNKNOWN
    assert state.attributes["messages"][0]["text"] == "Nozzle temperature is stable"
    long_text = "Thermal runaway on the hotend. " * 20
    messages = [
        {"code": "E1", "severity": "fatal", "text": "Thermal runaway", "url": "https://x/e1"},
        {"severity": "warning"},  # no text and no code: dropped
    ]
    await push_status(hass, event_queue, 12, status="error", error=long_text, messages=messages)
    state = hass.states.get(f"sensor.{PRUSA}_error_message")
    assert len(state.state) == 255 and state.state.startswith("Thermal runaway on the hotend.")
    assert state.attributes["messages"] == [
        {"code": "E1", "severity": "fatal", "text": "Thermal runaway", "url": "https://x/e1"}
    ]


@pytest.mark.usefixtures("init_integration")
async def test_tray_sensors_follow_the_trays(
    hass: HomeAssistant, event_queue: asyncio.Queue[FarmEvent]
) -> None:
    tray = hass.states.get(f"sensor.{PRUSA}_tray_1_1")
    assert tray.state == "PLA"
    assert tray.attributes["friendly_name"] == "Prusa One Tray 1-1"
    assert tray.attributes["color_hex"] == "#222222"
    assert tray.attributes["remaining_percent"] == 80
    assert tray.attributes["active"] is True
    assert hass.states.get(f"sensor.{PRUSA}_tray_1_2").state == "PETG"
    assert hass.states.get(f"sensor.{PRUSA}_external_spool").state == STATE_UNKNOWN
    assert hass.states.get("sensor.bambu_two_tray_1_1") is None  # p2 reports no trays

    trays = [
        {"tray_id": 1, "unit": 0, "slot": 1, "filament_type": "ASA", "remaining_percent": 10},
        {"tray_id": 4, "unit": 1, "slot": 0, "filament_type": "TPU", "active": True},
    ]
    await push_status(hass, event_queue, 13, trays=trays)
    assert hass.states.get(f"sensor.{PRUSA}_tray_1_2").state == "ASA"
    assert hass.states.get(f"sensor.{PRUSA}_tray_2_1").state == "TPU"  # a new unit appeared
    assert hass.states.get(f"sensor.{PRUSA}_tray_1_1").state == STATE_UNAVAILABLE  # gone


def _server(scopes: list[str] | None) -> ServerInfo:
    data = load_json("server.json")
    if scopes is None:
        data.pop("key")
    else:
        data["key"]["scopes"] = scopes
    return ServerInfo.from_dict(data)


@pytest.mark.parametrize(
    ("scopes", "missing"),
    [
        (["read"], "write, control"),
        (["read", "write"], "control"),
        (["read", "control"], "write"),
        (["read", "write", "control"], None),
        (None, None),  # an older server that does not describe the key
    ],
)
async def test_repair_issue_when_the_key_lacks_scopes(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    scopes: list[str] | None,
    missing: str | None,
) -> None:
    mock_client.server_info.return_value = _server(scopes)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    issue_id = missing_scopes_issue_id(mock_config_entry.entry_id)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    if missing is None:
        assert issue is None
        return
    assert issue is not None
    assert issue.translation_key == "missing_scopes"
    assert issue.severity is ir.IssueSeverity.WARNING
    assert issue.translation_placeholders["missing"] == missing
    assert issue.translation_placeholders["key_name"] == "home-assistant"

    # the user creates a key with every scope and reconfigures: the issue goes away
    mock_client.server_info.return_value = _server(["read", "write", "control"])
    assert await hass.config_entries.async_reload(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_removing_the_entry_removes_its_issue(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_client: MagicMock
) -> None:
    mock_client.server_info.return_value = _server(["read"])
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    issue_id = missing_scopes_issue_id(mock_config_entry.entry_id)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert await hass.config_entries.async_remove(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


def _server_status_event(**live: Any) -> dict[str, Any]:
    """A ``printer.status`` event exactly as the server builds it (live fields only: no job,
    colour or bed flag)."""
    server = pytest.importorskip("apf_core.lifecycle.status", reason="apf_core is missing")
    live_status = pytest.importorskip("apf_core.domain.live").LiveStatus
    return dict(server.status_event("p1", live_status(**live)))


@pytest.mark.usefixtures("init_integration")
async def test_server_status_push_updates_messages_and_keeps_the_job(
    hass: HomeAssistant, event_queue: asyncio.Queue[FarmEvent]
) -> None:
    runout = {
        "code": "0700_2000_0002_0001",
        "severity": "error",
        "text": "AMS A Slot 1 filament has run out",
        "url": "https://wiki.bambulab.com/en/x1/troubleshooting/hmscode/0700_2000_0002_0001",
    }
    data = _server_status_event(online=True, status="paused", progress=43.0, messages=[runout])
    await event_queue.put(make_event(20, "printer.status", data))
    for _ in range(3):
        await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "paused"
    assert hass.states.get(f"sensor.{PRUSA}_error_message").attributes["messages"] == [runout]
    # the job is not in the push: it stays what the last poll said
    assert hass.states.get(f"sensor.{PRUSA}_current_job").state == "Cable Clip"

    data = _server_status_event(online=True, status="printing", progress=44.0, messages=[])
    await event_queue.put(make_event(21, "printer.status", data))
    for _ in range(3):
        await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_error_message").attributes["messages"] == []
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"


@pytest.mark.usefixtures("init_integration")
async def test_offline_and_error_events_carry_reason_and_messages(
    hass: HomeAssistant, event_queue: asyncio.Queue[FarmEvent]
) -> None:
    bus = async_capture_events(hass, EVENT_APF)
    reason = "401 from Moonraker: wrong API key"
    offline = {"printer_id": "p1", "status": "offline", "previous_status": "printing"}
    await event_queue.put(make_event(30, "printer.offline", {**offline, "offline_reason": reason}))
    for _ in range(3):
        await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_offline_reason").state == reason
    assert bus[-1].data["type"] == "printer_offline"
    assert bus[-1].data["data"]["offline_reason"] == reason

    online = {"printer_id": "p1", "status": "idle", "previous_status": "offline"}
    await event_queue.put(make_event(31, "printer.online", online))
    for _ in range(3):
        await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_offline_reason").state == STATE_UNKNOWN

    fatal = {"code": "E1", "severity": "fatal", "text": "Thermal runaway", "url": None}
    error = {
        "printer_id": "p1",
        "status": "error",
        "previous_status": "idle",
        "error": "Thermal runaway",
        "error_code": 7,
        "messages": [fatal],
    }
    await event_queue.put(make_event(32, "printer.error", error))
    for _ in range(3):
        await hass.async_block_till_done()
    state = hass.states.get(f"sensor.{PRUSA}_error_message")
    assert state.state == "Thermal runaway"
    assert state.attributes["messages"] == [fatal]
    assert bus[-1].data["type"] == "printer_error"
    assert bus[-1].data["data"]["messages"] == [fatal]
