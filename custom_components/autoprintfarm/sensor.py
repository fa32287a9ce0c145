"""Sensors: per-printer telemetry and job info; farm job counts and stock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfMass,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .apf_client import Tray
from .const import DOMAIN, PRINTER_STATES
from .coordinator import ApfConfigEntry, ApfFarmCoordinator, ApfStockCoordinator
from .data import FarmData, PrinterData
from .entity import ApfHubEntity, ApfPrinterEntity

PARALLEL_UPDATES = 0

type SensorValue = StateType | datetime


@dataclass(frozen=True, kw_only=True)
class ApfPrinterSensorDescription(SensorEntityDescription):
    """A per-printer sensor."""

    value_fn: Callable[[PrinterData], SensorValue]
    exists_fn: Callable[[PrinterData], bool] = lambda _: True


@dataclass(frozen=True, kw_only=True)
class ApfFarmSensorDescription(SensorEntityDescription):
    """A farm-level sensor on the farm coordinator."""

    value_fn: Callable[[FarmData], StateType]


def _state(p: PrinterData) -> str | None:
    return p.state if p.state in PRINTER_STATES else None


def _has_chamber(p: PrinterData) -> bool:
    capable = p.printer.has_capability("chamber_temp")
    if capable is None:
        return p.status is not None and p.status.chamber_temp is not None
    return capable


def _status_value[T](fn: Callable[..., T | None]) -> Callable[[PrinterData], T | None]:
    """Read a status field; ``None`` when there is no status or the printer is off."""
    return lambda p: fn(p.status) if p.status is not None and p.online else None


def _cut(text: str | None) -> str | None:
    """A state holds at most 255 characters."""
    return text if text is None or len(text) <= 255 else text[:254] + "…"


def _job_name(p: PrinterData) -> str | None:
    if p.job is None:
        return None
    return p.job.product_name or p.job.file_name or p.job.id


def _temperature(
    key: str,
    value: Callable[..., float | None],
    enabled: bool = True,
    exists: Callable[[PrinterData], bool] = lambda _: True,
) -> ApfPrinterSensorDescription:
    return ApfPrinterSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
        entity_registry_enabled_default=enabled,
        entity_category=None if enabled else EntityCategory.DIAGNOSTIC,
        value_fn=_status_value(value),
        exists_fn=exists,
    )


PRINTER_SENSORS: tuple[ApfPrinterSensorDescription, ...] = (
    ApfPrinterSensorDescription(
        key="status",
        translation_key="printer_state",
        device_class=SensorDeviceClass.ENUM,
        options=PRINTER_STATES,
        value_fn=_state,
    ),
    ApfPrinterSensorDescription(
        key="progress",
        translation_key="progress",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_status_value(lambda s: s.progress),
    ),
    _temperature("nozzle_temperature", lambda s: s.nozzle_temp),
    _temperature("nozzle_target", lambda s: s.target_nozzle_temp, enabled=False),
    _temperature("bed_temperature", lambda s: s.bed_temp),
    _temperature("bed_target", lambda s: s.target_bed_temp, enabled=False),
    _temperature("chamber_temperature", lambda s: s.chamber_temp, exists=_has_chamber),
    _temperature(
        "chamber_target", lambda s: s.target_chamber_temp, enabled=False, exists=_has_chamber
    ),
    ApfPrinterSensorDescription(
        key="current_layer",
        translation_key="current_layer",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_status_value(lambda s: s.layer_num),
    ),
    ApfPrinterSensorDescription(
        key="total_layers",
        translation_key="total_layers",
        value_fn=_status_value(lambda s: s.total_layers),
    ),
    ApfPrinterSensorDescription(
        key="remaining_time",
        translation_key="remaining_time",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        suggested_display_precision=0,
        value_fn=_status_value(lambda s: s.remaining_time_minutes),
    ),
    ApfPrinterSensorDescription(
        key="end_time",
        translation_key="end_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda p: p.end_time,
    ),
    ApfPrinterSensorDescription(
        key="current_job", translation_key="current_job", value_fn=_job_name
    ),
    ApfPrinterSensorDescription(
        key="current_file",
        translation_key="current_file",
        value_fn=lambda p: p.job.file_name if p.job else None,
    ),
    ApfPrinterSensorDescription(
        key="filament_type",
        translation_key="filament_type",
        value_fn=lambda p: (
            (p.status and p.status.current_filament_type) or p.printer.current_filament_type
        ),
    ),
    ApfPrinterSensorDescription(
        key="filament_color",
        translation_key="filament_color",
        value_fn=lambda p: (p.status and p.status.current_color) or p.printer.current_color,
    ),
    ApfPrinterSensorDescription(
        key="print_started",
        translation_key="print_started",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda p: p.status.print_started_at if p.status and p.online else None,
    ),
    ApfPrinterSensorDescription(
        key="error_message",
        translation_key="error_message",
        value_fn=lambda p: _cut(p.status.error) if p.status else None,
    ),
    ApfPrinterSensorDescription(
        key="offline_reason",
        translation_key="offline_reason",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda p: _cut(p.status.offline_reason) if p.status and not p.online else None,
    ),
)

FARM_SENSORS: tuple[ApfFarmSensorDescription, ...] = (
    ApfFarmSensorDescription(
        key="jobs_queued",
        translation_key="jobs_queued",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda d: d.job_stats.queued,
    ),
    ApfFarmSensorDescription(
        key="jobs_printing",
        translation_key="jobs_printing",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda d: d.job_stats.printing,
    ),
    ApfFarmSensorDescription(
        key="jobs_completed_today",
        translation_key="jobs_completed_today",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda d: d.job_stats.completed_today,
    ),
    ApfFarmSensorDescription(
        key="jobs_failed_today",
        translation_key="jobs_failed_today",
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda d: d.failed_today,
    ),
)

LOW_STOCK = SensorEntityDescription(
    key="low_stock_items",
    translation_key="low_stock_items",
    state_class=SensorStateClass.MEASUREMENT,
)
SKU_STOCK = SensorEntityDescription(
    key="sku_stock",
    translation_key="sku_stock",
    state_class=SensorStateClass.MEASUREMENT,
    entity_registry_enabled_default=False,
)
SPOOL_REMAINING = SensorEntityDescription(
    key="filament_remaining",
    translation_key="filament_remaining",
    device_class=SensorDeviceClass.WEIGHT,
    native_unit_of_measurement=UnitOfMass.GRAMS,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=0,
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up sensors, adding printers, SKUs and spools as they appear."""
    farm, stock = entry.runtime_data.farm, entry.runtime_data.stock
    async_add_entities(ApfFarmSensor(farm, d) for d in FARM_SENSORS)
    async_add_entities([ApfLowStockSensor(stock, LOW_STOCK)])

    known_printers: set[str] = set()
    known_trays: set[tuple[str, str]] = set()

    @callback
    def _add_printers() -> None:
        current = set(farm.data.printers)
        known_printers.intersection_update(current)
        if new := current - known_printers:
            known_printers.update(new)
            async_add_entities(
                (ApfErrorSensor if d.key == "error_message" else ApfPrinterSensor)(farm, pid, d)
                for pid in sorted(new)
                for d in PRINTER_SENSORS
                if d.exists_fn(farm.data.printers[pid])
            )
        trays = {
            (pid, tray.tray_id): tray
            for pid, data in farm.data.printers.items()
            if data.status is not None
            for tray in data.status.trays or ()
        }
        known_trays.intersection_update(trays)
        if new_trays := set(trays) - known_trays:
            known_trays.update(new_trays)
            async_add_entities(
                ApfTraySensor(farm, pid, trays[pid, tray_id]) for pid, tray_id in sorted(new_trays)
            )

    known_items: dict[str, str] = {}  # unique-id suffix -> kind

    @callback
    def _sync_stock() -> None:
        data = stock.data
        current = {f"_{i}": "sku" for i in data.inventory} | {
            f"_{f}": "spool" for f in data.filaments
        }
        registry = er.async_get(hass)
        for suffix, kind in list(known_items.items()):
            if suffix not in current:
                key = SKU_STOCK.key if kind == "sku" else SPOOL_REMAINING.key
                uid = f"{entry.unique_id}_{key}{suffix}"
                if entity_id := registry.async_get_entity_id("sensor", DOMAIN, uid):
                    registry.async_remove(entity_id)
                del known_items[suffix]
        new_entities: list[SensorEntity] = []
        for item_id in data.inventory:
            if f"_{item_id}" not in known_items:
                known_items[f"_{item_id}"] = "sku"
                new_entities.append(ApfSkuStockSensor(stock, item_id))
        for spool_id in data.filaments:
            if f"_{spool_id}" not in known_items:
                known_items[f"_{spool_id}"] = "spool"
                new_entities.append(ApfSpoolSensor(stock, spool_id))
        if new_entities:
            async_add_entities(new_entities)

    _add_printers()
    _sync_stock()
    entry.async_on_unload(farm.async_add_listener(_add_printers))
    entry.async_on_unload(stock.async_add_listener(_sync_stock))


class ApfPrinterSensor(ApfPrinterEntity, SensorEntity):
    """A printer sensor."""

    entity_description: ApfPrinterSensorDescription

    @property
    def native_value(self) -> SensorValue:
        return self.entity_description.value_fn(self.printer_data)


class ApfErrorSensor(ApfPrinterSensor):
    """The printer's error text; every message it reports is in the attributes."""

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        status = self.printer_data.status
        messages = status.messages if status is not None else ()
        return {
            "messages": [
                {"code": m.code, "severity": m.severity, "text": m.text, "url": m.url}
                for m in messages
            ]
        }


class ApfTraySensor(ApfPrinterEntity, SensorEntity):
    """One filament tray (AMS/MMU slot or external spool): its filament type."""

    def __init__(self, coordinator: ApfFarmCoordinator, printer_id: str, tray: Tray) -> None:
        external = tray.unit is None or tray.slot is None
        description = SensorEntityDescription(
            key=f"tray_{tray.tray_id}",
            translation_key="external_spool" if external else "tray",
        )
        super().__init__(coordinator, printer_id, description)
        self.tray_id = tray.tray_id
        if not external:
            # Units and slots count from 0 on the server; people count from 1.
            self._attr_translation_placeholders = {
                "unit": str((tray.unit or 0) + 1),
                "slot": str((tray.slot or 0) + 1),
            }

    @property
    def tray(self) -> Tray | None:
        status = self.printer_data.status
        trays = status.trays if status is not None else None
        return next((t for t in trays or () if t.tray_id == self.tray_id), None)

    @property
    def available(self) -> bool:
        return super().available and self.tray is not None

    @property
    def native_value(self) -> str | None:
        tray = self.tray
        return tray.filament_type if tray is not None else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        tray = self.tray
        if tray is None:
            return {}
        return {
            "color_hex": tray.color_hex,
            "remaining_percent": tray.remaining_percent,
            "active": tray.active,
        }


class ApfFarmSensor(ApfHubEntity[ApfFarmCoordinator], SensorEntity):
    """A farm job-count sensor."""

    entity_description: ApfFarmSensorDescription

    @property
    def native_value(self) -> StateType:
        return self.entity_description.value_fn(self.coordinator.data)


class ApfLowStockSensor(ApfHubEntity[ApfStockCoordinator], SensorEntity):
    """How many finished goods are at or below their threshold."""

    @property
    def native_value(self) -> int:
        return self.coordinator.data.low_stock_count


class ApfSkuStockSensor(ApfHubEntity[ApfStockCoordinator], SensorEntity):
    """Ready stock of one finished-goods SKU."""

    def __init__(self, coordinator: ApfStockCoordinator, item_id: str) -> None:
        super().__init__(coordinator, SKU_STOCK, f"_{item_id}")
        self.item_id = item_id
        self._attr_translation_placeholders = {"sku": coordinator.data.inventory[item_id].sku}

    @property
    def available(self) -> bool:
        return super().available and self.item_id in self.coordinator.data.inventory

    @property
    def native_value(self) -> int:
        return self.coordinator.data.inventory[self.item_id].ready_stock


class ApfSpoolSensor(ApfHubEntity[ApfStockCoordinator], SensorEntity):
    """Grams left on one filament spool."""

    def __init__(self, coordinator: ApfStockCoordinator, spool_id: str) -> None:
        super().__init__(coordinator, SPOOL_REMAINING, f"_{spool_id}")
        self.spool_id = spool_id
        spool = coordinator.data.filaments[spool_id]
        self._attr_translation_placeholders = {"spool": spool.label or spool.id}

    @property
    def available(self) -> bool:
        return super().available and self.spool_id in self.coordinator.data.filaments

    @property
    def native_value(self) -> float | None:
        return self.coordinator.data.filaments[self.spool_id].remaining_grams
