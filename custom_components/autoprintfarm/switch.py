"""Maintenance mode per printer."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ApfConfigEntry
from .entity import ApfPrinterEntity
from .helpers import apf_exception_handler

PARALLEL_UPDATES = 1

MAINTENANCE = SwitchEntityDescription(
    key="maintenance", translation_key="maintenance", entity_category=EntityCategory.CONFIG
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up a maintenance switch for every printer, now and later."""
    farm = entry.runtime_data.farm
    known: set[str] = set()

    @callback
    def _add_printers() -> None:
        current = set(farm.data.printers)
        known.intersection_update(current)
        if new := current - known:
            known.update(new)
            async_add_entities(ApfMaintenanceSwitch(farm, pid, MAINTENANCE) for pid in sorted(new))

    _add_printers()
    entry.async_on_unload(farm.async_add_listener(_add_printers))


class ApfMaintenanceSwitch(ApfPrinterEntity, SwitchEntity):
    """On while the printer is in maintenance (the dispatcher skips it)."""

    @property
    def is_on(self) -> bool:
        data = self.printer_data
        return bool(data.printer.in_maintenance) or data.state == "maintenance"

    @apf_exception_handler
    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._set(True)

    @apf_exception_handler
    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._set(False)

    async def _set(self, on: bool) -> None:
        printer = await self.coordinator.client.set_maintenance(self.printer_id, on)
        self.coordinator.async_update_printer(printer)
