"""Buttons per printer: pause, resume, stop, the two clear-bed outcomes, home and cool down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .apf_client import ApfClient
from .coordinator import ApfConfigEntry
from .data import PrinterData
from .entity import ApfPrinterEntity, add_printer_entities
from .helpers import apf_exception_handler

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class ApfButtonDescription(ButtonEntityDescription):
    """A per-printer command button."""

    press_fn: Callable[[ApfClient, str], Awaitable[Any]]
    clears_bed: bool = False
    supported_fn: Callable[[PrinterData], bool] = lambda _: True


def _capable(capability: str) -> Callable[[PrinterData], bool]:
    """Only when the server says the printer can (older servers report no capabilities)."""
    return lambda data: data.printer.has_capability(capability) is True


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
    ApfButtonDescription(
        key="home",
        translation_key="home",
        supported_fn=_capable("home"),
        press_fn=lambda c, p: c.home(p),
    ),
    ApfButtonDescription(
        key="cooldown",
        translation_key="cooldown",
        supported_fn=_capable("heaters"),
        press_fn=lambda c, p: c.cooldown(p),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: ApfConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up the buttons each printer supports, now and later."""
    add_printer_entities(entry, async_add_entities, BUTTONS, ApfButton)


class ApfButton(ApfPrinterEntity, ButtonEntity):
    """A printer command button."""

    entity_description: ApfButtonDescription

    @apf_exception_handler
    async def async_press(self) -> None:
        await self.entity_description.press_fn(self.coordinator.client, self.printer_id)
        if self.entity_description.clears_bed:
            self.coordinator.async_mark_bed_cleared(self.printer_id)
