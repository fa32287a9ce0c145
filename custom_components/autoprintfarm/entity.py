"""Base entities: farm-level (hub device) and per-printer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator

from .apf_client import ServerInfo
from .compat import via_hub
from .const import DOMAIN
from .coordinator import ApfConfigEntry, ApfFarmCoordinator
from .data import PrinterData


def hub_device_fields(unique_id: str, server: ServerInfo, base_url: str) -> dict[str, Any]:
    """The farm (server) device's registry fields, as keyword arguments."""
    return {
        "identifiers": {(DOMAIN, unique_id)},
        "name": server.name,
        "manufacturer": "APF",
        "model": "Print farm server",
        "sw_version": server.version,
        "entry_type": DeviceEntryType.SERVICE,
        "configuration_url": base_url,
    }


def build_hub_device_info(unique_id: str, server: ServerInfo, base_url: str) -> DeviceInfo:
    """DeviceInfo of the farm (server) device."""
    return DeviceInfo(**hub_device_fields(unique_id, server, base_url))


def hub_device_info(entry: ApfConfigEntry) -> DeviceInfo:
    """DeviceInfo of a loaded entry's farm device."""
    assert entry.unique_id is not None
    runtime = entry.runtime_data
    return build_hub_device_info(entry.unique_id, runtime.server, runtime.client.base_url)


class ApfHubEntity[CoordinatorT: DataUpdateCoordinator[Any]](CoordinatorEntity[CoordinatorT]):
    """An entity of the farm device."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: CoordinatorT, description: EntityDescription, key_suffix: str = ""
    ) -> None:
        super().__init__(coordinator)
        entry = cast(ApfConfigEntry, coordinator.config_entry)
        self.entity_description = description
        self._attr_unique_id = f"{entry.unique_id}_{description.key}{key_suffix}"
        self._attr_device_info = hub_device_info(entry)


class ApfPrinterEntity(CoordinatorEntity[ApfFarmCoordinator]):
    """An entity of one printer's device."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: ApfFarmCoordinator, printer_id: str, description: EntityDescription
    ) -> None:
        super().__init__(coordinator)
        entry = coordinator.config_entry
        printer = coordinator.data.printers[printer_id].printer
        self.entity_description = description
        self.printer_id = printer_id
        self._attr_unique_id = f"{entry.unique_id}_{printer_id}_{description.key}"
        assert entry.unique_id is not None
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, printer_id)},
            name=printer.name,
            manufacturer=printer.manufacturer or "AutoPrintFarm",
            model=printer.model,
            sw_version=printer.firmware_version,
            suggested_area=printer.location,
            **via_hub((DOMAIN, entry.unique_id), entry.runtime_data.hub_device_id),
        )

    @property
    def printer_data(self) -> PrinterData:
        return self.coordinator.data.printers[self.printer_id]

    @property
    def available(self) -> bool:
        """Unavailable only when the server is unreachable or the printer is gone."""
        return super().available and self.printer_id in self.coordinator.data.printers


def add_printer_entities[D: EntityDescription](
    entry: ApfConfigEntry,
    async_add_entities: Callable[[Iterable[Entity]], None],
    descriptions: Sequence[D],
    factory: Callable[[ApfFarmCoordinator, str, D], Entity],
) -> None:
    """Add one entity per printer and description whose ``supported_fn`` (if any) says so.

    Runs again on every farm update: new printers, and capabilities a printer reports only once
    connected (a Klipper camera, say), get their entities then.
    """
    farm = entry.runtime_data.farm
    known: set[tuple[str, str]] = set()
    by_key = {d.key: d for d in descriptions}

    def supported(description: D, data: PrinterData) -> bool:
        check: Callable[[PrinterData], bool] | None = getattr(description, "supported_fn", None)
        return check is None or check(data)

    @callback
    def _add() -> None:
        printers = farm.data.printers
        current = {
            (pid, d.key)
            for pid, data in printers.items()
            for d in descriptions
            if supported(d, data)
        }
        known.intersection_update({pair for pair in known if pair[0] in printers})
        if new := current - known:
            known.update(new)
            async_add_entities(factory(farm, pid, by_key[key]) for pid, key in sorted(new))

    _add()
    entry.async_on_unload(farm.async_add_listener(_add))
