"""Coordinator edge cases: partial servers, races, malformed pushes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from unittest.mock import MagicMock

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.autoprintfarm.apf_client import (
    APFConnectionError,
    APFInsufficientScopeError,
    APFNotFoundError,
    APFRateLimitError,
    FarmEvent,
    Job,
    JobStats,
)
from custom_components.autoprintfarm.data import FarmData

from .conftest import PRUSA, FakeFarm, logged, make_event

pytestmark = pytest.mark.usefixtures("mock_client")


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_server_without_stock_endpoints(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_client: MagicMock
) -> None:
    mock_client.inventory.side_effect = APFNotFoundError("no route", status=404)
    mock_client.filaments.side_effect = APFInsufficientScopeError("scope", status=403)
    await _setup(hass, mock_config_entry)
    assert mock_config_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.garage_farm_low_stock_items").state == "0"


async def test_failed_today_from_history(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    fake_farm: FakeFarm,
) -> None:
    fake_farm.stats = replace(fake_farm.stats, failed_today=None)
    now = datetime.now(UTC)
    mock_client.jobs_history.return_value = [
        Job(id="a", status="failed", time_completed=now),
        Job(id="b", status="completed", time_completed=now),
        Job(id="c", status="failed", time_completed=now - timedelta(days=2)),
        Job(id="d", status="failed"),
    ]
    await _setup(hass, mock_config_entry)
    assert hass.states.get("sensor.garage_farm_jobs_failed_today").state == "1"


async def test_failed_today_without_history(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    fake_farm: FakeFarm,
) -> None:
    fake_farm.stats = JobStats(queued=1)
    mock_client.jobs_history.side_effect = APFNotFoundError("no route", status=404)
    await _setup(hass, mock_config_entry)
    assert hass.states.get("sensor.garage_farm_jobs_failed_today").state == "0"


async def test_printer_vanishes_during_poll(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    fake_farm: FakeFarm,
) -> None:
    """404s for a printer's detail, status or job between the list and the detail call."""
    printers = list(fake_farm.printers)

    def detail(pid: str):
        if pid == "p2":
            raise APFNotFoundError("gone", status=404)
        return next(p for p in printers if p.id == pid)

    mock_client.printer.side_effect = detail
    mock_client.job.side_effect = APFNotFoundError("gone", status=404)
    await _setup(hass, mock_config_entry)
    data: FarmData = mock_config_entry.runtime_data.farm.data
    assert set(data.printers) == {"p1"}
    assert data.printers["p1"].job is None
    assert hass.states.get(f"sensor.{PRUSA}_current_job").state == "unknown"


async def test_status_404_keeps_printer(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    fake_farm: FakeFarm,
) -> None:
    def status(pid: str):
        if pid == "p2":
            raise APFNotFoundError("gone", status=404)
        return fake_farm.statuses[pid]

    mock_client.printer_status.side_effect = status
    await _setup(hass, mock_config_entry)
    assert hass.states.get("sensor.bambu_two_status").state == "offline"


async def test_rate_limited(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
) -> None:
    await _setup(hass, mock_config_entry)
    farm = mock_config_entry.runtime_data.farm
    mock_client.job_stats.side_effect = APFRateLimitError("slow down", retry_after=60)
    await farm.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == STATE_UNAVAILABLE
    assert farm.last_exception is not None
    assert farm.last_exception.translation_key == "rate_limited"


async def test_maintenance_state_and_job_progress(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    fake_farm: FakeFarm,
    event_queue: asyncio.Queue[FarmEvent | Exception],
) -> None:
    fake_farm.printers = [replace(p, in_maintenance=p.id == "p2") for p in fake_farm.printers]
    fake_farm.statuses["p2"] = replace(fake_farm.statuses["p2"], hub_online=True, status="idle")
    await _setup(hass, mock_config_entry)
    assert hass.states.get("sensor.bambu_two_status").state == "maintenance"
    assert hass.states.get("switch.bambu_two_maintenance_mode").state == "on"
    farm = mock_config_entry.runtime_data.farm
    await event_queue.put(
        make_event(
            1, "job.progress", {"job_id": "j1", "printer_id": "p1", "progress_percentage": 55.5}
        )
    )
    await event_queue.put(
        make_event(
            2, "job.progress", {"job_id": "other", "printer_id": "p1", "progress_percentage": 99}
        )
    )
    await event_queue.put(
        make_event(
            3, "job.progress", {"job_id": "j1", "printer_id": "p1", "progress_percentage": "bad"}
        )
    )
    await hass.async_block_till_done()
    assert farm.data.printers["p1"].job.progress_percentage == 55.5


async def test_events_for_unknown_printers_trigger_refresh(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    event_queue: asyncio.Queue[FarmEvent | Exception],
) -> None:
    await _setup(hass, mock_config_entry)
    before = mock_client.printers.await_count
    await event_queue.put(make_event(1, "printer.status", {"printer_id": "new", "status": "idle"}))
    await hass.async_block_till_done()
    assert mock_client.printers.await_count == before + 1
    await event_queue.put(make_event(2, "printer.online", {"printer_id": "new2", "status": "idle"}))
    await event_queue.put(make_event(3, "material.low", {"id": "s1"}))
    await hass.async_block_till_done()
    assert mock_config_entry.runtime_data.farm.last_event_id == 3


async def test_unexpected_stream_error_reconnects(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    event_queue: asyncio.Queue[FarmEvent | Exception],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _setup(hass, mock_config_entry)
    await event_queue.put(RuntimeError("library bug"))
    await hass.async_block_till_done()
    assert "Unexpected error in the event stream" in caplog.text
    calls = mock_client.events.call_count
    freezer.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert mock_client.events.call_count == calls + 1


async def test_event_burst_polls_once(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    event_queue: asyncio.Queue[FarmEvent | Exception],
) -> None:
    """Replayed events after a reconnect do not poll the server once per event."""
    await _setup(hass, mock_config_entry)
    before = mock_client.printers.await_count
    for event_id in range(1, 11):
        await event_queue.put(
            make_event(
                event_id,
                "job.progress" if event_id % 2 else "job.started",
                {"id": "j1", "job_id": "j1", "status": "printing", "printer_id": "p1"},
            )
        )
        await event_queue.put(
            make_event(100 + event_id, "printer.status", {"printer_id": "p1", "status": "printing"})
        )
    await hass.async_block_till_done()
    assert mock_config_entry.runtime_data.farm.last_event_id == 110
    assert mock_client.printers.await_count == before + 1


async def test_push_does_not_hide_an_outage(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    fake_farm: FakeFarm,
    event_queue: asyncio.Queue[FarmEvent | Exception],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Events arriving while REST polls fail keep entities unavailable until a poll succeeds."""
    await _setup(hass, mock_config_entry)
    farm = mock_config_entry.runtime_data.farm
    mock_client.printers.side_effect = APFConnectionError("refused")
    await farm.async_refresh()
    await event_queue.put(make_event(1, "printer.status", {"printer_id": "p1", "status": "idle"}))
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == STATE_UNAVAILABLE
    mock_client.printers.side_effect = lambda: list(fake_farm.printers)
    await farm.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"
    assert logged(caplog, "farm data recovered") == 1


async def test_stream_reconnect_ends_outage_at_once(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    fake_farm: FakeFarm,
    event_queue: asyncio.Queue[FarmEvent | Exception],
) -> None:
    await _setup(hass, mock_config_entry)
    farm = mock_config_entry.runtime_data.farm
    mock_client.printers.side_effect = APFConnectionError("refused")
    await event_queue.put(APFConnectionError("stream closed"))
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == STATE_UNAVAILABLE
    mock_client.printers.side_effect = lambda: list(fake_farm.printers)
    freezer.tick(timedelta(seconds=1))  # reconnect after the first backoff, before any poll
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert farm.push_connected is True
    for _ in range(10):  # the catch-up poll runs as a background task
        await asyncio.sleep(0)
        await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"
