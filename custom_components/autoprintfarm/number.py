"""Heater targets per printer: nozzle and bed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from homeassistant.components.number import (
    NumberDeviceClass,
    NumberEntity,
    NumberEntityDescription,
    NumberMode,
)
from homeassistant.const import UnitOfTemperature
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .apf_client import PrinterStatus
from .coordinator import ApfConfigEntry
from .entity import ApfPrinterEntity
from .helpers import apf_exception_handler

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ApfTargetDescription(NumberEntityDescription):
    """A heater target."""

    heater: Literal["nozzle", "bed"]
    value_fn: Callable[[PrinterStatus], float | None]


TARGETS: tuple[ApfTargetDescription, ...] = (
    ApfTargetDescription(
        key="nozzle_target_set",
        translation_key="nozzle_target",
        heater="nozzle",
        device_class=NumberDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        native_min_value=0,
        native_max_value=300,
        native_step=1,
        mode=NumberMode.BOX,
        value_fn=lambda s: s.target_nozzle_temp,
    ),
    ApfTargetDescription(
        key="bed_target_set",
        translation_key="bed_target",
        heater="bed",
        device_class=NumberDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        native_min_value=0,
        native_max_value=120,
        native_step=1,
        mode=NumberMode.BOX,
        value_fn=lambda s: s.target_bed_temp,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up heater targets for every printer, now and later."""
    farm = entry.runtime_data.farm
    known: set[str] = set()

    @callback
    def _add_printers() -> None:
        current = set(farm.data.printers)
        known.intersection_update(current)
        if new := current - known:
            known.update(new)
            async_add_entities(
                ApfHeaterTarget(farm, pid, d) for pid in sorted(new) for d in TARGETS
            )

    _add_printers()
    entry.async_on_unload(farm.async_add_listener(_add_printers))


class ApfHeaterTarget(ApfPrinterEntity, NumberEntity):
    """Set a heater's target temperature."""

    entity_description: ApfTargetDescription

    @property
    def native_value(self) -> float | None:
        data = self.printer_data
        if data.status is None or not data.online:
            return None
        return self.entity_description.value_fn(data.status)

    @apf_exception_handler
    async def async_set_native_value(self, value: float) -> None:
        await self.coordinator.client.set_temperature(
            self.printer_id, self.entity_description.heater, value
        )
