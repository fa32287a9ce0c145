"""Logbook descriptions of autoprintfarm_event."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN, EVENT_APF

MESSAGES: dict[str, str] = {
    "print_started": "started printing{file}",
    "print_paused": "paused printing{file}",
    "print_resumed": "resumed printing{file}",
    "print_completed": "completed{file}",
    "print_failed": "failed printing{file}{reason}",
    "print_cancelled": "cancelled printing{file}",
    "printer_online": "came online",
    "printer_offline": "went offline",
    "printer_error": "reported an error{error}",
    "bed_clear_required": "needs its bed cleared",
    "low_stock": "is low on {sku} ({stock} left)",
    "filament_low": "is low on filament {spool} ({grams} g left)",
    "filament_empty": "ran out of filament {spool}",
    "order_created": "received order {order}",
    "order_fulfilled": "fulfilled order {order}",
    "assembly_completed": "completed an assembly task",
}


def _placeholders(data: Mapping[str, Any]) -> dict[str, str]:
    def opt(prefix: str, key: str) -> str:
        value = data.get(key)
        return f"{prefix}{value}" if value not in (None, "") else ""

    spool = " ".join(str(data[k]) for k in ("brand", "type", "color") if data.get(k))
    return {
        "file": opt(" ", "file_name"),
        "reason": opt(": ", "failure_reason"),
        "error": opt(": ", "error"),
        "sku": str(data.get("sku") or "an item"),
        "stock": str(data.get("ready_stock", "?")),
        "spool": spool or str(data.get("id", "")),
        "grams": str(data.get("remaining_grams", "?")),
        "order": str(data.get("order_number") or data.get("id") or ""),
    }


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe autoprintfarm events in the logbook."""
    registry = dr.async_get(hass)

    @callback
    def describe(event: Event) -> dict[str, str]:
        device = registry.devices.get(event.data.get("device_id") or "")
        name = (device.name_by_user or device.name) if device else None
        kind = str(event.data.get("type", ""))
        payload = event.data.get("data")
        template = MESSAGES.get(kind, kind.replace("_", " "))
        message = template.format(**_placeholders(payload if isinstance(payload, Mapping) else {}))
        return {LOGBOOK_ENTRY_NAME: name or "AutoPrintFarm", LOGBOOK_ENTRY_MESSAGE: message}

    async_describe_event(DOMAIN, EVENT_APF, describe)
