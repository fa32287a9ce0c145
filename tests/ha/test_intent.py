"""Assist intents: pause, resume, status."""

from __future__ import annotations

import re
from unittest.mock import MagicMock

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from homeassistant.setup import async_setup_component

from custom_components.autoprintfarm.apf_client import APFError
from custom_components.autoprintfarm.intent import INTENT_PAUSE, INTENT_RESUME, INTENT_STATUS

pytestmark = pytest.mark.usefixtures("init_integration", "intent_component")


@pytest.fixture
async def intent_component(hass: HomeAssistant) -> None:
    """The intent component loads intent.py platforms (as Assist does)."""
    assert await async_setup_component(hass, "intent", {})
    await hass.async_block_till_done()


async def handle(hass: HomeAssistant, intent_type: str, printer: str) -> intent.IntentResponse:
    return await intent.async_handle(hass, "test", intent_type, {"printer": {"value": printer}})


async def test_pause_and_resume(hass: HomeAssistant, mock_client: MagicMock) -> None:
    response = await handle(hass, INTENT_PAUSE, "prusa  ONE")
    mock_client.pause.assert_awaited_once_with("p1")
    assert response.speech["plain"]["speech"] == "Paused Prusa One"
    response = await handle(hass, INTENT_RESUME, "Prusa One")
    mock_client.resume.assert_awaited_once_with("p1")
    assert response.speech["plain"]["speech"] == "Resumed Prusa One"


async def test_status(hass: HomeAssistant) -> None:
    response = await handle(hass, INTENT_STATUS, "prusa one")
    assert (
        response.speech["plain"]["speech"]
        == "Prusa One is printing, 42 percent done, 83 minutes left"
    )
    response = await handle(hass, INTENT_STATUS, "Bambu Two")
    assert response.speech["plain"]["speech"] == "Bambu Two is offline"


async def test_unknown_printer_and_failure(hass: HomeAssistant, mock_client: MagicMock) -> None:
    helpful = "There is no printer called Ender. The printers are: Bambu Two, Prusa One."
    with pytest.raises(intent.IntentHandleError, match=re.escape(helpful)):
        await handle(hass, INTENT_PAUSE, "Ender")
    mock_client.pause.side_effect = APFError("wrong state", code="INVALID_STATE", status=409)
    with pytest.raises(intent.IntentHandleError, match="Could not pause Prusa One"):
        await handle(hass, INTENT_PAUSE, "Prusa One")
