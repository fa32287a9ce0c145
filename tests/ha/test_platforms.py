"""Snapshot tests: every platform's registry entries and states."""

from __future__ import annotations

from collections.abc import Generator
from unittest.mock import patch

import pytest
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

# Snapshots are kept per Home Assistant version (conftest.VersionedSnapshotExtension).
pytestmark = [pytest.mark.freeze_time("2026-11-21 12:00:00+00:00")]


@pytest.fixture(autouse=True)
def fixed_image_token() -> Generator[None]:
    """Image and camera entities get a random access token; pin it for stable snapshots."""
    with patch("random.SystemRandom.getrandbits", return_value=0x1234ABCD):
        yield


@pytest.mark.parametrize(
    "platforms",
    [
        [Platform.BINARY_SENSOR],
        [Platform.BUTTON],
        [Platform.CAMERA],
        [Platform.EVENT],
        [Platform.IMAGE],
        [Platform.LIGHT],
        [Platform.NUMBER],
        [Platform.SELECT],
        [Platform.SENSOR],
        [Platform.SWITCH],
    ],
    ids=lambda p: p[0].value,
)
@pytest.mark.usefixtures("entity_registry_enabled_by_default", "init_integration")
async def test_platform_snapshot(
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    entity_registry: er.EntityRegistry,
    mock_config_entry: MockConfigEntry,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, mock_config_entry.entry_id)
