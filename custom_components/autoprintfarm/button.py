"""Buttons per printer: pause, resume, stop and the two clear-bed outcomes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .apf_client import ApfClient
from .coordinator import ApfConfigEntry
from .entity import ApfPrinterEntity
from .helpers import apf_exception_handler

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ApfButtonDescription(ButtonEntityDescription):
    """A per-printer command button."""

    press_fn: Callable[[ApfClient, str], Awaitable[Any]]
    clears_bed: bool = False


BUTTONS: tuple[ApfButtonDescription, ...] = (
    ApfButtonDescription(key="pause", translation_key="pause", press_fn=lambda c, p: c.pause(p)),
    ApfButtonDescription(key="resume", translation_key="resume", press_fn=lambda c, p: c.resume(p)),
    ApfButtonDescription(key="stop", translation_key="stop", press_fn=lambda c, p: c.stop(p)),
    ApfButtonDescription(
        key="clear_bed",
        translation_key="clear_bed",
        clears_bed=True,
        press_fn=lambda c, p: c.clear_bed(p, "success"),
    ),
    ApfButtonDescription(
        key="clear_bed_failed",
        translation_key="clear_bed_failed",
        clears_bed=True,
        press_fn=lambda c, p: c.clear_bed(p, "failed"),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up buttons for every printer, now and later."""
    farm = entry.runtime_data.farm
    known: set[str] = set()

    @callback
    def _add_printers() -> None:
        current = set(farm.data.printers)
        known.intersection_update(current)
        if new := current - known:
            known.update(new)
            async_add_entities(ApfButton(farm, pid, d) for pid in sorted(new) for d in BUTTONS)

    _add_printers()
    entry.async_on_unload(farm.async_add_listener(_add_printers))


class ApfButton(ApfPrinterEntity, ButtonEntity):
    """A printer command button."""

    entity_description: ApfButtonDescription

    @apf_exception_handler
    async def async_press(self) -> None:
        await self.entity_description.press_fn(self.coordinator.client, self.printer_id)
        if self.entity_description.clears_bed:
            self.coordinator.async_mark_bed_cleared(self.printer_id)
