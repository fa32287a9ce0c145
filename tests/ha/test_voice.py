"""Assist end to end through the real default conversation agent, with no setup by the user.

No file is copied into custom_sentences/ and nothing restarts: the sentences work as soon as the
integration and Assist (conversation) are set up, in either order.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from unittest.mock import MagicMock, patch

import pytest
from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.autoprintfarm.apf_client import APFError
from custom_components.autoprintfarm.voice import async_reply, spoken_names

from .conftest import FakeFarm


async def start_assist(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "conversation", {})
    await hass.async_block_till_done()


@pytest.fixture
async def assist(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    """Integration first, Assist second (as after a restart)."""
    await start_assist(hass)
    assert not (Path(hass.config.config_dir) / "custom_sentences").exists()


async def ask(hass: HomeAssistant, text: str) -> str:
    result = await conversation.async_converse(hass, text, None, Context(), language="en")
    return str(result.response.speech["plain"]["speech"])


@pytest.mark.usefixtures("assist")
async def test_pause_resume_status_by_voice(hass: HomeAssistant, mock_client: MagicMock) -> None:
    assert await ask(hass, "pause the Prusa One") == "Paused Prusa One"
    mock_client.pause.assert_awaited_once_with("p1")
    assert await ask(hass, "Resume prusa one printer") == "Resumed Prusa One"
    mock_client.resume.assert_awaited_once_with("p1")
    assert await ask(hass, "what is the Prusa One doing") == (
        "Prusa One is printing, 42 percent done, 83 minutes left"
    )
    assert await ask(hass, "what is Bambu Two doing") == "Bambu Two is offline"


async def test_printer_light_by_voice(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    fake_farm: FakeFarm,
) -> None:
    fake_farm.printers[1] = replace(fake_farm.printers[1], capabilities=frozenset({"heaters"}))
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await start_assist(hass)
    assert await ask(hass, "turn on the Prusa One light") == "Turned on the light of Prusa One"
    mock_client.set_light.assert_awaited_once_with("p1", True)
    mock_client.set_light.reset_mock()
    assert await ask(hass, "switch the prusa one light off") == "Turned off the light of Prusa One"
    mock_client.set_light.assert_awaited_once_with("p1", False)
    mock_client.set_light.reset_mock()
    assert await ask(hass, "turn on the Bambu Two light") == "Bambu Two has no light"
    mock_client.set_light.assert_not_awaited()


@pytest.mark.usefixtures("assist")
async def test_unknown_printer_gets_the_printer_names(
    hass: HomeAssistant, mock_client: MagicMock
) -> None:
    helpful = "There is no printer called Ender 3. The printers are: Bambu Two, Prusa One."
    assert await ask(hass, "pause the Ender 3 printer") == helpful
    assert await ask(hass, "what is the Ender 3 doing") == helpful
    assert await ask(hass, "resume Ender 3 printer") == helpful
    mock_client.pause.assert_not_awaited()
    mock_client.resume.assert_not_awaited()


@pytest.mark.usefixtures("assist")
async def test_other_devices_keep_their_sentences(
    hass: HomeAssistant, mock_client: MagicMock
) -> None:
    """A bare "pause the X" that names no printer is left to Home Assistant's own intents."""
    reply = await ask(hass, "pause the kitchen speaker")
    assert "printer" not in reply
    mock_client.pause.assert_not_awaited()


@pytest.mark.usefixtures("assist")
async def test_server_refusal_is_said(hass: HomeAssistant, mock_client: MagicMock) -> None:
    mock_client.pause.side_effect = APFError("printer is idle", code="INVALID_STATE", status=409)
    assert await ask(hass, "pause Prusa One") == "Could not pause Prusa One: printer is idle"


async def test_assist_first_then_integration(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_client: MagicMock
) -> None:
    await start_assist(hass)
    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert await ask(hass, "pause the Prusa One") == "Paused Prusa One"
    mock_client.pause.assert_awaited_once_with("p1")


@pytest.mark.usefixtures("assist")
async def test_sentences_follow_renames_and_unload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    mock_client: MagicMock,
    fake_farm: FakeFarm,
) -> None:
    fake_farm.printers[0] = replace(fake_farm.printers[0], name="Voron (left)")
    await init_integration.runtime_data.farm.async_refresh()
    await hass.async_block_till_done()
    assert await ask(hass, "pause the Voron left") == "Paused Voron (left)"
    fake_farm.printers[0] = replace(fake_farm.printers[0], name="Voron 2.4")
    await init_integration.runtime_data.farm.async_refresh()
    await hass.async_block_till_done()
    assert await ask(hass, "pause the Voron") == "Paused Voron 2.4"
    assert await ask(hass, "resume the voron 2.4 printer") == "Resumed Voron 2.4"
    assert await ask(hass, "what is the Prusa One doing") == (
        "There is no printer called Prusa One. The printers are: Bambu Two, Voron 2.4."
    )

    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    mock_client.pause.reset_mock()
    reply = await ask(hass, "pause the Voron")
    mock_client.pause.assert_not_awaited()
    assert reply != "Paused Voron 2.4"


def test_spoken_names() -> None:
    said = spoken_names(["Voron 2.4", "Ender 3", "Ender 5", "MK4", "Mr. Prusa [left]", "X1C 2"])
    assert said == {
        "voron 2.4": "Voron 2.4",
        "voron": "Voron 2.4",
        "ender 3": "Ender 3",
        "ender 5": "Ender 5",
        "mk4": "MK4",
        "mr prusa left": "Mr Prusa left",
        "x1c 2": "X1C 2",
    }


@pytest.mark.usefixtures("init_integration")
async def test_replies_come_from_translations(hass: HomeAssistant, mock_client: MagicMock) -> None:
    german = {"component.autoprintfarm.common.voice_pause_done": "{printer} ist pausiert"}

    async def translations(
        _hass: HomeAssistant, language: str, category: str, *_args: object, **_kw: object
    ) -> dict[str, str]:
        return german if (language, category) == ("de", "common") else {}

    with patch(
        "custom_components.autoprintfarm.voice.translation.async_get_translations", translations
    ):
        assert await async_reply(hass, "pause", "prusa one", "de") == (
            "Prusa One ist pausiert",
            True,
        )
    mock_client.pause.assert_awaited_once_with("p1")
