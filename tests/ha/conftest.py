"""Fixtures for the Home Assistant integration tests (mocked apf_client by default)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Generator
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock, PropertyMock, patch

import pytest
from homeassistant.const import CONF_API_KEY, CONF_URL, Platform
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.autoprintfarm.apf_client import (
    FarmEvent,
    Filament,
    InventoryItem,
    Job,
    JobStats,
    Printer,
    PrinterStatus,
    ServerInfo,
)
from custom_components.autoprintfarm.const import DOMAIN

FIXTURES = Path(__file__).parent / "fixtures"
SERVER_ID = "5d0f3c1e-8a4b-4c2d-9e7f-0a1b2c3d4e5f"
URL = "http://farm.local:8080"
API_KEY = "apf_live_" + "ab" * 32


# Home Assistant 2026.x puts the device's area in new entity ids ("sensor.garage_prusa_one_status"):
# the fixture printer p1 stands in the "Garage" (location -> suggested_area), p2 has no location.
AREA_IN_ENTITY_IDS = hasattr(er, "EntityNamePart")
PRUSA = "garage_prusa_one" if AREA_IN_ENTITY_IDS else "prusa_one"


def get_device(hass: HomeAssistant, ident: str) -> dr.DeviceEntry | None:
    """The device with identifier (DOMAIN, ident), on every tested Home Assistant version.

    2026.x deprecates (and raises from tests on) `async_get_device`: identifiers are unique only
    within a config entry there, so the lookup names the entry.
    """
    registry = dr.async_get(hass)
    if not hasattr(registry, "async_get_device_by_identifier"):
        return registry.async_get_device(identifiers={(DOMAIN, ident)})
    for entry in hass.config_entries.async_entries(DOMAIN):
        device = registry.async_get_device_by_identifier((DOMAIN, ident), entry.entry_id)
        if device is not None:
            return device
    return None


def logged(caplog: pytest.LogCaptureFixture, text: str) -> int:
    """How many INFO-or-louder log lines contain text (debug lines vary between HA versions)."""
    return sum(text in r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def make_status(printer_id: str, **changes: Any) -> PrinterStatus:
    return PrinterStatus.from_dict({**load_json(f"status_{printer_id}.json"), **changes})


def make_event(event_id: int, event_type: str, data: dict[str, Any]) -> FarmEvent:
    return FarmEvent.from_dict(
        {
            "kind": "event",
            "id": event_id,
            "type": event_type,
            "time": "2026-11-21T12:00:00Z",
            "data": data,
        }
    )


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ in every test."""


class VersionedSnapshotExtension(HomeAssistantSnapshotExtension):
    """One snapshot set per tested Home Assistant version (snapshots/ha-<version>/): registry
    entries gain keys between versions (object_id_base, suggested_object_id, ...)."""

    @classmethod
    def dirname(cls, *, test_location: Any) -> str:
        return str(Path(test_location.filepath).parent / "snapshots" / f"ha-{HA_VERSION}")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """HA's snapshot extension (masks ids/timestamps), in snapshots/ha-<version>/."""
    return snapshot.use_extension(VersionedSnapshotExtension)


def is_our_deprecation_report(message: str) -> bool:
    """A Home Assistant deprecation report (frame.report_usage) that blames this integration."""
    if "Detected that custom integration 'autoprintfarm'" in message:
        return True
    return "Detected code that" in message and "autoprintfarm" in message


@pytest.fixture(autouse=True)
def _fail_on_deprecation_reports(caplog: pytest.LogCaptureFixture) -> Generator[None]:
    """A test fails when Home Assistant reports deprecated use by this integration."""
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    reports = [r.getMessage() for r in records if is_our_deprecation_report(r.getMessage())]
    if reports:
        pytest.fail("Home Assistant reported deprecated use:\n" + "\n".join(reports))


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def mock_config_entry() -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Garage Farm",
        unique_id=SERVER_ID,
        data={CONF_URL: URL, CONF_API_KEY: API_KEY},
        entry_id="01JAPFTESTENTRY000000000000",
    )


@pytest.fixture
def event_queue() -> asyncio.Queue[FarmEvent | Exception]:
    return asyncio.Queue()


class FakeFarm:
    """Mutable server state the mocked client answers from."""

    def __init__(self) -> None:
        self.printers = [Printer.from_dict(p) for p in load_json("printers.json")]
        self.statuses = {p.id: make_status(p.id) for p in self.printers}
        self.jobs = {"j1": Job.from_dict(load_json("job_j1.json"))}
        self.stats = JobStats.from_dict(load_json("job_stats.json"))
        self.inventory = [InventoryItem.from_dict(i) for i in load_json("inventory.json")]
        self.filaments = [Filament.from_dict(f) for f in load_json("filaments.json")]


@pytest.fixture
def fake_farm() -> FakeFarm:
    return FakeFarm()


@pytest.fixture
def welcome_ids() -> list[int | None]:
    """``last_event_id`` of the next welcome frames (None when empty)."""
    return []


@pytest.fixture
def mock_client(
    event_queue: asyncio.Queue[FarmEvent | Exception],
    fake_farm: FakeFarm,
    welcome_ids: list[int | None],
) -> Generator[MagicMock]:
    """An autospecced ApfClient answering from FakeFarm; events come from event_queue."""

    async def _events(
        types: Any = None,
        last_event_id: int | None = None,
        *,
        heartbeat: float = 30.0,
        on_connect: Callable[[int | None], None] | None = None,
    ) -> AsyncIterator[FarmEvent]:
        if on_connect is not None:
            on_connect(welcome_ids.pop(0) if welcome_ids else None)
        while True:
            item = await event_queue.get()
            if isinstance(item, Exception):
                raise item
            yield item

    with (
        patch("custom_components.autoprintfarm.ApfClient", autospec=True) as client_class,
        patch("custom_components.autoprintfarm.config_flow.ApfClient", new=client_class),
    ):
        client = client_class.return_value
        client.base_url = URL
        client.server_info.return_value = ServerInfo.from_dict(load_json("server.json"))
        client.printers.side_effect = lambda: list(fake_farm.printers)
        client.printer.side_effect = lambda pid: next(p for p in fake_farm.printers if p.id == pid)
        client.printer_status.side_effect = lambda pid: fake_farm.statuses[pid]
        client.job.side_effect = lambda jid: fake_farm.jobs[jid]
        client.job_stats.side_effect = lambda: fake_farm.stats
        client.inventory.side_effect = lambda **_: list(fake_farm.inventory)
        client.filaments.side_effect = lambda **_: list(fake_farm.filaments)
        client.file_thumbnail.return_value = b"\x89PNG\r\n\x1a\nthumb"
        client.camera_snapshot.return_value = b"\xff\xd8\xff\xe0jpeg"
        client.events = MagicMock(side_effect=_events)
        yield client


@pytest.fixture
def platforms() -> list[Platform] | None:
    """Override to set up only these platforms."""
    return None


@pytest.fixture
async def init_integration(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    platforms: list[Platform] | None,
) -> MockConfigEntry:
    mock_config_entry.add_to_hass(hass)
    if platforms is None:
        assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    else:
        with patch("custom_components.autoprintfarm.PLATFORMS", platforms):
            assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    return mock_config_entry


__all__ = ["AsyncMock"]
