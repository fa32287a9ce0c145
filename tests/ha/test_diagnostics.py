"""Diagnostics: snapshot, with secrets redacted."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from .conftest import API_KEY


async def test_diagnostics(
    hass: HomeAssistant, hass_client, init_integration: MockConfigEntry, snapshot: SnapshotAssertion
) -> None:
    result = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert result == snapshot(exclude=props("created_at", "modified_at", "entry_id"))


async def test_diagnostics_redacts_secrets(
    hass: HomeAssistant, hass_client, init_integration: MockConfigEntry
) -> None:
    text = json.dumps(await get_diagnostics_for_config_entry(hass, hass_client, init_integration))
    assert API_KEY not in text
    assert "apf_live_" not in text
    assert "farm.local" not in text
    assert init_integration.unique_id not in text
