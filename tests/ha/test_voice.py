"""Assist end to end: the shipped custom sentences drive the integration's intents."""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest.mock import MagicMock

import pytest
from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component

SENTENCES = Path(__file__).parents[2] / "custom_components/autoprintfarm/sentences/en.yaml"

pytestmark = pytest.mark.usefixtures("init_integration")


@pytest.fixture
async def assist(hass: HomeAssistant, tmp_path: Path) -> None:
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "custom_sentences" / "en"
    target.mkdir(parents=True)
    shutil.copy(SENTENCES, target / "autoprintfarm.yaml")
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    await hass.async_block_till_done()


async def ask(hass: HomeAssistant, text: str) -> str:
    result = await conversation.async_converse(hass, text, None, Context(), language="en")
    return str(result.response.speech["plain"]["speech"])


@pytest.mark.usefixtures("assist")
async def test_pause_resume_status_by_voice(hass: HomeAssistant, mock_client: MagicMock) -> None:
    assert await ask(hass, "pause the Prusa One") == "Paused Prusa One"
    mock_client.pause.assert_awaited_once_with("p1")
    assert await ask(hass, "resume prusa one") == "Resumed Prusa One"
    mock_client.resume.assert_awaited_once_with("p1")
    assert await ask(hass, "what is Prusa One doing") == (
        "Prusa One is printing, 42 percent done, 83 minutes left"
    )


@pytest.mark.usefixtures("assist")
async def test_turn_on_printer_light_by_voice(hass: HomeAssistant, mock_client: MagicMock) -> None:
    await ask(hass, "turn off the Prusa One light")
    mock_client.set_light.assert_awaited_once_with("p1", False)
