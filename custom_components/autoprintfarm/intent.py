"""Assist intents: pause, resume and ask about a printer by name."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import intent

from apf_core.client import APFError

from .const import DOMAIN
from .coordinator import ApfConfigEntry
from .data import PrinterData

INTENT_PAUSE = "ApfPausePrinter"
INTENT_RESUME = "ApfResumePrinter"
INTENT_STATUS = "ApfPrinterStatus"


async def async_setup_intents(hass: HomeAssistant) -> None:
    """Register the intent handlers (intent platform: called by the intent component)."""
    intent.async_register(
        hass, PrinterCommandIntent(INTENT_PAUSE, "pause", "Pauses a 3D printer of the print farm")
    )
    intent.async_register(
        hass,
        PrinterCommandIntent(
            INTENT_RESUME, "resume", "Resumes a paused 3D printer of the print farm"
        ),
    )
    intent.async_register(hass, PrinterStatusIntent())


def find_printer(hass: HomeAssistant, name: str) -> tuple[ApfConfigEntry, PrinterData]:
    """The printer whose name matches (case-insensitive) in any loaded farm."""
    wanted = " ".join(name.casefold().split())
    entries: list[ApfConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    for entry in entries:
        for data in entry.runtime_data.farm.data.printers.values():
            if " ".join(data.printer.name.casefold().split()) == wanted:
                return entry, data
    raise intent.IntentHandleError(f"No printer named {name}")


class _PrinterIntent(intent.IntentHandler):
    slot_schema: dict[Any, Any] = {vol.Required("printer"): cv.string}
    platforms = {DOMAIN}

    def _printer(self, intent_obj: intent.Intent) -> tuple[ApfConfigEntry, PrinterData]:
        slots = self.async_validate_slots(intent_obj.slots)
        return find_printer(intent_obj.hass, slots["printer"]["value"])


class PrinterCommandIntent(_PrinterIntent):
    """Pause or resume a printer."""

    def __init__(self, intent_type: str, action: str, description: str) -> None:
        self.intent_type = intent_type
        self.action = action
        self.description = description

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        entry, data = self._printer(intent_obj)
        client = entry.runtime_data.client
        try:
            if self.action == "pause":
                await client.pause(data.printer.id)
            else:
                await client.resume(data.printer.id)
        except APFError as err:
            raise intent.IntentHandleError(
                f"Could not {self.action} {data.printer.name}: {err}"
            ) from err
        await entry.runtime_data.farm.async_request_refresh()
        response = intent_obj.create_response()
        verb = "Paused" if self.action == "pause" else "Resumed"
        response.async_set_speech(f"{verb} {data.printer.name}")
        return response


class PrinterStatusIntent(_PrinterIntent):
    """Say what a printer is doing."""

    intent_type = INTENT_STATUS
    description = "Reports what a 3D printer of the print farm is doing"

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        _entry, data = self._printer(intent_obj)
        speech = f"{data.printer.name} is {data.state}"
        if (
            data.state in ("printing", "paused")
            and data.status
            and data.status.progress is not None
        ):
            speech += f", {round(data.status.progress)} percent done"
            if data.status.remaining_time_minutes:
                speech += f", {data.status.remaining_time_minutes} minutes left"
        response = intent_obj.create_response()
        response.async_set_speech(speech)
        return response
