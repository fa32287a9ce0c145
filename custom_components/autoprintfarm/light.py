"""The chamber light of printers that have one."""

from __future__ import annotations

from typing import Any

from homeassistant.components.light import LightEntity, LightEntityDescription
from homeassistant.components.light.const import ColorMode
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ApfConfigEntry, ApfFarmCoordinator
from .data import PrinterData
from .entity import ApfPrinterEntity
from .helpers import apf_exception_handler

PARALLEL_UPDATES = 1

CHAMBER_LIGHT = LightEntityDescription(key="chamber_light", translation_key="chamber_light")


def has_light(data: PrinterData) -> bool:
    """Per the server's capabilities; without them, every printer gets one (assumed state)."""
    capable = data.printer.has_capability("light")
    return True if capable is None else capable


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up a light for each printer with a chamber light."""
    farm = entry.runtime_data.farm
    known: set[str] = set()

    @callback
    def _add_printers() -> None:
        current = {pid for pid, data in farm.data.printers.items() if has_light(data)}
        known.intersection_update(set(farm.data.printers))
        if new := current - known:
            known.update(new)
            async_add_entities(ApfChamberLight(farm, pid) for pid in sorted(new))

    _add_printers()
    entry.async_on_unload(farm.async_add_listener(_add_printers))


class ApfChamberLight(ApfPrinterEntity, LightEntity):
    """A printer's chamber light (on/off)."""

    _attr_color_mode = ColorMode.ONOFF
    _attr_supported_color_modes = {ColorMode.ONOFF}

    def __init__(self, coordinator: ApfFarmCoordinator, printer_id: str) -> None:
        super().__init__(coordinator, printer_id, CHAMBER_LIGHT)
        self._assumed_on: bool | None = None

    @property
    def is_on(self) -> bool | None:
        status = self.printer_data.status
        if status is not None and status.light_on is not None:
            return status.light_on
        return self._assumed_on

    @property
    def assumed_state(self) -> bool:
        status = self.printer_data.status
        return status is None or status.light_on is None

    @apf_exception_handler
    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.coordinator.client.set_light(self.printer_id, True)
        self._assumed_on = True
        self.async_write_ha_state()

    @apf_exception_handler
    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.coordinator.client.set_light(self.printer_id, False)
        self._assumed_on = False
        self.async_write_ha_state()
