"""Setup, unload, reload, unavailability and push behaviour."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from unittest.mock import MagicMock

import pytest
from apf_core.client import (
    APFAuthenticationError,
    APFConnectionError,
    APFEventStreamUnavailable,
    FarmEvent,
)
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.autoprintfarm.const import DOMAIN

from .conftest import FakeFarm, make_event, make_status


async def test_setup_and_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.prusa_one_status").state == "printing"
    assert hass.states.get("sensor.bambu_two_status").state == "offline"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
