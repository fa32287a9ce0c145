"""Print speed per printer: Bambu's four levels (M220 percentages on Klipper and OctoPrint)."""

# mypy: ignore-errors
# (mypy_path exposes this folder for the top-level apf_client package, so this module also passes
# for the stdlib's `select` there; only apf_client is type-checked from this folder.)

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .apf_client import SPEED_LEVELS, PrinterStatus
from .coordinator import ApfConfigEntry
from .data import PrinterData
from .entity import ApfPrinterEntity, add_printer_entities
from .helpers import apf_exception_handler

PARALLEL_UPDATES = 1

#: the percentage the server sends (M220) for each level; Klipper reports only the percentage
LEVEL_PERCENT = {"silent": 50, "standard": 100, "sport": 124, "ludicrous": 166}


def speed_level(status: PrinterStatus) -> str | None:
    """The reported level, else the level whose percentage the printer reports (else unknown)."""
    if status.speed_level in SPEED_LEVELS:
        return status.speed_level
    if status.speed_percent is None:
        return None
    return next(
        (lvl for lvl, pct in LEVEL_PERCENT.items() if round(status.speed_percent) == pct), None
    )


@dataclass(frozen=True, kw_only=True)
class ApfSelectDescription(SelectEntityDescription):
    """A per-printer choice."""

    value_fn: Callable[[PrinterStatus], str | None]
    supported_fn: Callable[[PrinterData], bool]


SELECTS: tuple[ApfSelectDescription, ...] = (
    ApfSelectDescription(
        key="print_speed",
        translation_key="print_speed",
        options=list(SPEED_LEVELS),
        value_fn=speed_level,
        supported_fn=lambda data: data.printer.has_capability("speed") is True,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up the print-speed select of each printer that supports it, now and later."""
    add_printer_entities(entry, async_add_entities, SELECTS, ApfSelect)


class ApfSelect(ApfPrinterEntity, SelectEntity):
    """The current level as the printer reports it; unknown while it reports none."""

    entity_description: ApfSelectDescription

    @property
    def current_option(self) -> str | None:
        data = self.printer_data
        if data.status is None or not data.online:
            return None
        return self.entity_description.value_fn(data.status)

    @apf_exception_handler
    async def async_select_option(self, option: str) -> None:
        await self.coordinator.client.set_speed(self.printer_id, option)
