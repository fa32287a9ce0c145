"""Logbook descriptions of autoprintfarm_event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.autoprintfarm.const import DOMAIN, EVENT_APF
from custom_components.autoprintfarm.logbook import async_describe_events

pytestmark = pytest.mark.usefixtures("init_integration")


def describer(hass: HomeAssistant) -> Callable[[Event], dict[str, str]]:
    found: list[Callable[[Event], dict[str, str]]] = []

    def register(domain: str, event_type: str, fn: Callable[[Event], dict[str, str]]) -> None:
        assert (domain, event_type) == (DOMAIN, EVENT_APF)
        found.append(fn)

    async_describe_events(hass, register)
    return found[0]


@pytest.mark.parametrize(
    ("kind", "device", "data", "name", "message"),
    [
        (
            "print_failed",
            "p1",
            {"file_name": "clip.3mf", "failure_reason": "Spaghetti"},
            "Prusa One",
            "failed printing clip.3mf: Spaghetti",
        ),
        ("print_completed", "p1", {}, "Prusa One", "completed"),
        (
            "printer_error",
            "p1",
            {"error": "Thermal runaway"},
            "Prusa One",
            "reported an error: Thermal runaway",
        ),
        (
            "low_stock",
            "hub",
            {"sku": "CLIP-WHT", "ready_stock": 2},
            "Garage Farm",
            "is low on CLIP-WHT (2 left)",
        ),
        (
            "filament_low",
            "hub",
            {"brand": "Prusament", "type": "PLA", "color": "Black", "remaining_grams": 90},
            "Garage Farm",
            "is low on filament Prusament PLA Black (90 g left)",
        ),
        ("order_created", None, {"order_number": "1001"}, "AutoPrintFarm", "received order 1001"),
        ("something_new", None, None, "AutoPrintFarm", "something new"),
    ],
)
async def test_describe(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    kind: str,
    device: str | None,
    data: dict[str, Any] | None,
    name: str,
    message: str,
) -> None:
    registry = dr.async_get(hass)
    ident = mock_config_entry.unique_id if device == "hub" else device
    devices = dr.async_entries_for_config_entry(registry, mock_config_entry.entry_id)
    by_ident = {i: d.id for d in devices for domain, i in d.identifiers if domain == DOMAIN}
    device_id = by_ident[ident] if ident else None
    event = Event(EVENT_APF, {"type": kind, "device_id": device_id, "data": data})
    assert describer(hass)(event) == {"name": name, "message": message}
