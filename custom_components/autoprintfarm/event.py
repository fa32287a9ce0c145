"""An event entity per printer that fires on print and printer events."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import PRINTER_TRIGGERS, SIGNAL_EVENT
from .coordinator import ApfConfigEntry, ApfFarmCoordinator
from .entity import ApfPrinterEntity

PARALLEL_UPDATES = 0

PRINTER_EVENT = EventEntityDescription(
    key="printer_event", translation_key="printer_event", event_types=list(PRINTER_TRIGGERS)
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up an event entity for every printer, now and later."""
    farm = entry.runtime_data.farm
    known: set[str] = set()

    @callback
    def _add_printers() -> None:
        current = set(farm.data.printers)
        known.intersection_update(current)
        if new := current - known:
            known.update(new)
            async_add_entities(ApfPrinterEvent(farm, pid) for pid in sorted(new))

    _add_printers()
    entry.async_on_unload(farm.async_add_listener(_add_printers))


class ApfPrinterEvent(ApfPrinterEntity, EventEntity):
    """Fires ``print_started``, ``print_failed``, ``bed_clear_required``, ..."""

    def __init__(self, coordinator: ApfFarmCoordinator, printer_id: str) -> None:
        super().__init__(coordinator, printer_id, PRINTER_EVENT)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        signal = SIGNAL_EVENT.format(entry_id=self.coordinator.config_entry.entry_id)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, self._on_event))

    @callback
    def _on_event(self, payload: dict[str, Any]) -> None:
        if payload.get("printer_id") != self.printer_id or payload["type"] not in PRINTER_TRIGGERS:
            return
        attributes = {"event_id": payload["event_id"]}
        if payload.get("job_id"):
            attributes["job_id"] = payload["job_id"]
        messages = payload["data"].get("messages")
        if messages:  # why the printer paused or failed the job (HMS, attention)
            attributes["messages"] = messages
        self._trigger_event(payload["type"], attributes)
        self.async_write_ha_state()
