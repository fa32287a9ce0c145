"""Device triggers and the autoprintfarm_event bus event."""

from __future__ import annotations

import asyncio

import pytest
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_get_device_automations,
)
from pytest_unordered import unordered

from custom_components.autoprintfarm.apf_client import FarmEvent
from custom_components.autoprintfarm.const import DOMAIN, EVENT_APF, FARM_TRIGGERS, PRINTER_TRIGGERS
from custom_components.autoprintfarm.device_trigger import async_get_triggers

from .conftest import get_device, make_event

pytestmark = pytest.mark.usefixtures("init_integration")


def _device(hass: HomeAssistant, ident: str) -> dr.DeviceEntry:
    device = get_device(hass, ident)
    assert device is not None
    return device


async def test_get_triggers(hass: HomeAssistant, mock_config_entry: MockConfigEntry) -> None:
    printer = _device(hass, "p1")
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, printer.id)
    ours = [t for t in triggers if t["domain"] == DOMAIN]
    assert ours == unordered(
        [
            {
                "platform": "device",
                "domain": DOMAIN,
                "device_id": printer.id,
                "type": kind,
                "metadata": {},
            }
            for kind in PRINTER_TRIGGERS
        ]
    )
    hub = _device(hass, mock_config_entry.unique_id)
    hub_triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, hub.id)
    assert sorted(t["type"] for t in hub_triggers if t["domain"] == DOMAIN) == sorted(FARM_TRIGGERS)
    assert await async_get_triggers(hass, "unknown-device") == []
    foreign = dr.async_get(hass).async_get_or_create(
        config_entry_id=mock_config_entry.entry_id, identifiers={("other", "x")}
    )
    assert await async_get_triggers(hass, foreign.id) == []


async def test_trigger_fires_automation(
    hass: HomeAssistant,
    service_calls: list[ServiceCall],
    event_queue: asyncio.Queue[FarmEvent],
    mock_config_entry: MockConfigEntry,
) -> None:
    printer, hub = _device(hass, "p1"), _device(hass, mock_config_entry.unique_id)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "triggers": [
                        {
                            "platform": "device",
                            "domain": DOMAIN,
                            "device_id": printer.id,
                            "type": "print_failed",
                        }
                    ],
                    "actions": [
                        {
                            "action": "test.automation",
                            "data": {
                                "p": "{{ trigger.event.data.printer_id }}",
                                "why": "{{ trigger.event.data.data.failure_reason }}",
                            },
                        }
                    ],
                },
                {
                    "triggers": [
                        {
                            "platform": "device",
                            "domain": DOMAIN,
                            "device_id": hub.id,
                            "type": "low_stock",
                        }
                    ],
                    "actions": [
                        {
                            "action": "test.automation",
                            "data": {"sku": "{{ trigger.event.data.data.sku }}"},
                        }
                    ],
                },
            ]
        },
    )
    bus_events = async_capture_events(hass, EVENT_APF)
    await event_queue.put(
        make_event(5, "job.completed", {"id": "j1", "status": "completed", "printer_id": "p1"})
    )
    await event_queue.put(
        make_event(
            6,
            "job.failed",
            {"id": "j1", "status": "failed", "printer_id": "p1", "failure_reason": "spaghetti"},
        )
    )
    await event_queue.put(make_event(7, "inventory.low_stock", {"id": "fg2", "sku": "CLIP-WHT"}))
    await hass.async_block_till_done()
    assert [c.data for c in service_calls] == [{"p": "p1", "why": "spaghetti"}, {"sku": "CLIP-WHT"}]
    assert [e.data["type"] for e in bus_events] == ["print_completed", "print_failed", "low_stock"]
    assert bus_events[0].data["device_id"] == printer.id
    assert bus_events[0].data["job_id"] == "j1"
    assert bus_events[2].data["device_id"] == hub.id
