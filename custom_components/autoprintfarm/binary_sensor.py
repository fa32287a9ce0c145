"""Binary sensors per printer: online, awaiting bed clear, error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ApfConfigEntry
from .data import PrinterData
from .entity import ApfPrinterEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ApfBinarySensorDescription(BinarySensorEntityDescription):
    """A per-printer binary sensor."""

    is_on_fn: Callable[[PrinterData], bool]


BINARY_SENSORS: tuple[ApfBinarySensorDescription, ...] = (
    ApfBinarySensorDescription(
        key="online",
        translation_key="online",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda p: p.online,
    ),
    ApfBinarySensorDescription(
        key="awaiting_bed_clear",
        translation_key="awaiting_bed_clear",
        is_on_fn=lambda p: p.awaiting_bed_clear,
    ),
    ApfBinarySensorDescription(
        key="error",
        translation_key="error",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda p: p.state == "error",
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up binary sensors for every printer, now and later."""
    farm = entry.runtime_data.farm
    known: set[str] = set()

    @callback
    def _add_printers() -> None:
        current = set(farm.data.printers)
        known.intersection_update(current)
        if new := current - known:
            known.update(new)
            async_add_entities(
                ApfBinarySensor(farm, pid, d) for pid in sorted(new) for d in BINARY_SENSORS
            )

    _add_printers()
    entry.async_on_unload(farm.async_add_listener(_add_printers))


class ApfBinarySensor(ApfPrinterEntity, BinarySensorEntity):
    """A printer binary sensor."""

    entity_description: ApfBinarySensorDescription

    @property
    def is_on(self) -> bool:
        return self.entity_description.is_on_fn(self.printer_data)
