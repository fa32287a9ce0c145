"""Assist intents: pause, resume and ask about a printer by name.

The sentences need no setup (voice.py registers them as conversation triggers); these intents
serve custom sentences and LLM agents, with the same translated replies.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import intent

from .const import DOMAIN
from .voice import async_reply

INTENT_PAUSE = "ApfPausePrinter"
INTENT_RESUME = "ApfResumePrinter"
INTENT_STATUS = "ApfPrinterStatus"


async def async_setup_intents(hass: HomeAssistant) -> None:
    """Register the intent handlers (intent platform: called by the intent component)."""
    intent.async_register(
        hass, PrinterIntent(INTENT_PAUSE, "pause", "Pauses a 3D printer of the print farm")
    )
    intent.async_register(
        hass,
        PrinterIntent(INTENT_RESUME, "resume", "Resumes a paused 3D printer of the print farm"),
    )
    intent.async_register(
        hass,
        PrinterIntent(INTENT_STATUS, "status", "Reports what a 3D printer of the farm is doing"),
    )


class PrinterIntent(intent.IntentHandler):
    """Pause, resume or report a printer; an unknown name is an error naming the printers."""

    slot_schema: dict[Any, Any] = {vol.Required("printer"): cv.string}
    platforms = {DOMAIN}

    def __init__(self, intent_type: str, action: str, description: str) -> None:
        self.intent_type = intent_type
        self.action = action
        self.description = description

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        name = self.async_validate_slots(intent_obj.slots)["printer"]["value"]
        speech, ok = await async_reply(intent_obj.hass, self.action, name, intent_obj.language)
        if not ok:
            raise intent.IntentHandleError(speech)
        response = intent_obj.create_response()
        response.async_set_speech(speech)
        return response
