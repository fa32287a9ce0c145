"""Setup, unload, reload, unavailability and push behaviour."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from unittest.mock import MagicMock

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.autoprintfarm.apf_client import (
    APFAuthenticationError,
    APFConnectionError,
    APFError,
    APFEventStreamUnavailable,
    FarmEvent,
)
from custom_components.autoprintfarm.const import DOMAIN

from .conftest import PRUSA, FakeFarm, get_device, logged, make_event


async def test_setup_and_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"
    assert hass.states.get("sensor.bambu_two_status").state == "offline"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


@pytest.fixture
def no_stream(mock_client: MagicMock) -> MagicMock:
    """A server without the event stream: the integration must poll."""

    async def _unavailable(*_args: object, **_kwargs: object):
        raise APFEventStreamUnavailable("no stream", status=404)
        yield  # pragma: no cover - makes this an async generator

    mock_client.events.side_effect = _unavailable
    return mock_client


@pytest.mark.parametrize(
    ("failing", "error", "state"),
    [
        ("server_info", APFConnectionError("down"), ConfigEntryState.SETUP_RETRY),
        ("server_info", APFAuthenticationError("bad", status=401), ConfigEntryState.SETUP_ERROR),
        ("printers", APFConnectionError("down"), ConfigEntryState.SETUP_RETRY),
        ("printers", APFAuthenticationError("bad", status=401), ConfigEntryState.SETUP_ERROR),
    ],
)
async def test_setup_failures(
    hass: HomeAssistant,
    mock_config_entry: MockConfigEntry,
    mock_client: MagicMock,
    failing: str,
    error: Exception,
    state: ConfigEntryState,
) -> None:
    getattr(mock_client, failing).side_effect = error
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is state
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert bool(flows) is (state is ConfigEntryState.SETUP_ERROR)
    if flows:
        assert flows[0]["context"]["source"] == SOURCE_REAUTH


@pytest.mark.usefixtures("no_stream")
async def test_unavailable_and_recovery_logged_once(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    mock_client: MagicMock,
    init_integration: MockConfigEntry,
    fake_farm: FakeFarm,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Server down: entities unavailable, one log line; back up: one recovery line."""
    farm = init_integration.runtime_data.farm
    assert farm.push_supported is False
    assert farm.update_interval == timedelta(seconds=30)
    mock_client.printers.side_effect = APFConnectionError("connection refused")
    mock_client.inventory.side_effect = APFConnectionError("connection refused")
    for _ in range(12):  # 6 minutes: the stock coordinator polls (and fails) too
        freezer.tick(timedelta(seconds=31))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_client.inventory.await_count >= 2
    for entity_id in (
        f"sensor.{PRUSA}_status",
        f"button.{PRUSA}_pause",
        "sensor.bambu_two_status",
        "sensor.garage_farm_low_stock_items",
    ):
        assert hass.states.get(entity_id).state == STATE_UNAVAILABLE
    assert logged(caplog, "connection refused") == 1
    mock_client.printers.side_effect = lambda: list(fake_farm.printers)
    mock_client.inventory.side_effect = lambda **_: list(fake_farm.inventory)
    for _ in range(2):
        freezer.tick(timedelta(seconds=31))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"
    assert hass.states.get("sensor.garage_farm_low_stock_items").state == "1"
    assert logged(caplog, "recovered") == 1


@pytest.mark.usefixtures("no_stream")
async def test_stock_failure_alone_is_logged(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    mock_client: MagicMock,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing stock endpoint on a reachable server is reported on its own."""
    mock_client.inventory.side_effect = APFError("boom", code="INTERNAL_ERROR", status=500)
    freezer.tick(timedelta(minutes=5, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "Error fetching autoprintfarm stock data" in caplog.text
    assert hass.states.get("sensor.garage_farm_low_stock_items").state == STATE_UNAVAILABLE
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"


@pytest.mark.usefixtures("no_stream")
async def test_offline_printer_is_not_unavailable(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    assert hass.states.get("sensor.bambu_two_status").state == "offline"
    assert hass.states.get("binary_sensor.bambu_two_online").state == "off"
    assert hass.states.get("button.bambu_two_pause").state != STATE_UNAVAILABLE


@pytest.mark.usefixtures("no_stream")
async def test_auth_failure_while_polling_starts_reauth(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    mock_client: MagicMock,
    init_integration: MockConfigEntry,
) -> None:
    mock_client.job_stats.side_effect = APFAuthenticationError(
        "revoked", code="TOKEN_REVOKED", status=401
    )
    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["source"] == SOURCE_REAUTH


async def test_push_status_updates_entity(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    event_queue: asyncio.Queue[FarmEvent],
    mock_client: MagicMock,
) -> None:
    farm = init_integration.runtime_data.farm
    assert farm.push_connected is True
    assert farm.update_interval == timedelta(minutes=5)
    calls_before = mock_client.printers.await_count
    await event_queue.put(
        make_event(
            7,
            "printer.status",
            {
                "printer_id": "p1",
                "status": "paused",
                "progress": 43.0,
                "hub_online": True,
                "current_job_id": "j1",
                "nozzle_temp": 200.0,
                "remaining_time_minutes": 80,
                "last_telemetry_at": "2026-11-21T12:01:00Z",
            },
        )
    )
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "paused"
    assert hass.states.get(f"sensor.{PRUSA}_progress").state == "43.0"
    assert hass.states.get(f"sensor.{PRUSA}_nozzle_temperature").state == "200.0"
    assert hass.states.get(f"sensor.{PRUSA}_current_job").state == "Cable Clip"
    assert farm.last_event_id == 7
    assert mock_client.printers.await_count == calls_before  # no poll needed


async def test_push_printer_events_and_bed_clear(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    event_queue: asyncio.Queue[FarmEvent],
) -> None:
    await event_queue.put(
        make_event(1, "printer.offline", {"printer_id": "p1", "status": "offline"})
    )
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "offline"
    assert hass.states.get(f"binary_sensor.{PRUSA}_online").state == "off"
    await event_queue.put(
        make_event(
            2, "printer.error", {"printer_id": "p1", "status": "error", "error": "thermal runaway"}
        )
    )
    await hass.async_block_till_done()
    assert hass.states.get(f"binary_sensor.{PRUSA}_error").state == "on"
    await event_queue.put(
        make_event(3, "printer.bed_clear_required", {"printer_id": "p1", "status": "idle"})
    )
    await hass.async_block_till_done()
    assert hass.states.get(f"binary_sensor.{PRUSA}_awaiting_bed_clear").state == "on"
    # the flag survives a status push while idle, and clears once printing again
    await event_queue.put(make_event(4, "printer.status", {"printer_id": "p1", "status": "idle"}))
    await hass.async_block_till_done()
    assert hass.states.get(f"binary_sensor.{PRUSA}_awaiting_bed_clear").state == "on"
    await event_queue.put(
        make_event(5, "printer.status", {"printer_id": "p1", "status": "printing"})
    )
    await hass.async_block_till_done()
    assert hass.states.get(f"binary_sensor.{PRUSA}_awaiting_bed_clear").state == "off"


async def test_push_ignores_malformed_and_unknown(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    event_queue: asyncio.Queue[FarmEvent],
) -> None:
    await event_queue.put(make_event(1, "printer.status", {"status": "idle"}))  # no printer_id
    await event_queue.put(make_event(2, "job.started", {"status": "printing"}))  # no job id
    await event_queue.put(make_event(3, "something.new", {"x": 1}))
    await hass.async_block_till_done()
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"
    assert init_integration.runtime_data.farm.last_event_id == 3


async def test_stream_lost_falls_back_to_polling_and_reconnects(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    event_queue: asyncio.Queue[FarmEvent],
    mock_client: MagicMock,
) -> None:
    farm = init_integration.runtime_data.farm
    await event_queue.put(
        make_event(9, "printer.status", {"printer_id": "p1", "status": "printing"})
    )
    await event_queue.put(APFConnectionError("stream closed"))
    await hass.async_block_till_done()
    assert farm.push_connected is False
    assert farm.update_interval == timedelta(seconds=30)
    freezer.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert farm.push_connected is True
    assert mock_client.events.call_args.args[1] == 9  # resumes after the last event


async def test_stream_auth_error_starts_reauth(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    event_queue: asyncio.Queue[FarmEvent],
) -> None:
    await event_queue.put(APFAuthenticationError("revoked", code="TOKEN_REVOKED", status=401))
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows[0]["context"]["source"] == SOURCE_REAUTH


@pytest.mark.usefixtures("no_stream")
async def test_dynamic_and_stale_devices(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    fake_farm: FakeFarm,
) -> None:
    from custom_components.autoprintfarm.apf_client import Printer, PrinterStatus

    fake_farm.printers = [p for p in fake_farm.printers if p.id != "p2"] + [
        Printer(id="p3", name="Voron Three", model="2.4", capabilities=frozenset({"light"}))
    ]
    fake_farm.statuses["p3"] = PrinterStatus(
        printer_id="p3", status="idle", hub_online=True, light_on=False
    )
    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("sensor.voron_three_status").state == "idle"
    assert hass.states.get("light.voron_three_light").state == "off"
    assert get_device(hass, "p2") is None
    assert hass.states.get("sensor.bambu_two_status") is None
    hub = get_device(hass, init_integration.unique_id)
    assert hub is not None
    voron = get_device(hass, "p3")
    assert voron is not None
    assert voron.via_device_id == hub.id


@pytest.mark.usefixtures("no_stream")
async def test_dynamic_stock_entities(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    fake_farm: FakeFarm,
) -> None:
    from homeassistant.helpers import entity_registry as er

    from custom_components.autoprintfarm.apf_client import Filament

    registry = er.async_get(hass)
    assert registry.async_get("sensor.garage_farm_stock_clip_wht") is not None
    fake_farm.inventory = fake_farm.inventory[:1]
    fake_farm.filaments.append(Filament(id="s2", type="PETG", color="Orange", remaining_grams=80))
    freezer.tick(timedelta(minutes=5, seconds=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert registry.async_get("sensor.garage_farm_stock_clip_wht") is None
    assert hass.states.get("sensor.garage_farm_filament_petg_orange").state == "80"
    assert hass.states.get("sensor.garage_farm_low_stock_items").state == "0"


async def test_remove_config_entry_device(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_ws_client,
) -> None:
    from homeassistant.helpers import device_registry as dr
    from homeassistant.setup import async_setup_component

    from custom_components.autoprintfarm import async_remove_config_entry_device

    assert await async_setup_component(hass, "config", {})
    registry = dr.async_get(hass)
    hub = get_device(hass, init_integration.unique_id)
    printer = get_device(hass, "p1")
    assert not await async_remove_config_entry_device(hass, init_integration, hub)
    assert not await async_remove_config_entry_device(hass, init_integration, printer)
    leftover = registry.async_get_or_create(
        config_entry_id=init_integration.entry_id, identifiers={(DOMAIN, "gone")}
    )
    assert await async_remove_config_entry_device(hass, init_integration, leftover)


async def test_options_change_reloads(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    from custom_components.autoprintfarm.const import CONF_SCAN_INTERVAL

    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    await hass.config_entries.options.async_configure(result["flow_id"], {CONF_SCAN_INTERVAL: 10})
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.farm.poll_interval == timedelta(seconds=10)
    # saving the same options again does not reload
    runtime = init_integration.runtime_data
    hass.config_entries.async_update_entry(init_integration, title="Renamed")
    await hass.async_block_till_done()
    assert init_integration.runtime_data is runtime


async def test_reload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"


async def test_event_log_restart_resumes_from_start(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    event_queue: asyncio.Queue[FarmEvent],
    mock_client: MagicMock,
    welcome_ids: list[int | None],
) -> None:
    """A server whose event ids went backwards (restored database) is followed from id 0."""
    farm = init_integration.runtime_data.farm
    await event_queue.put(make_event(500, "printer.status", {"printer_id": "p1", "status": "idle"}))
    await hass.async_block_till_done()
    welcome_ids.extend([3, 3])  # the server now only knows ids up to 3
    await event_queue.put(APFConnectionError("server restarted"))
    await hass.async_block_till_done()
    for _ in range(3):
        freezer.tick(timedelta(seconds=2))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert mock_client.events.call_args_list[1].args[1] == 500  # first try resumes after 500
    assert mock_client.events.call_args_list[-1].args[1] is None  # then starts over
    assert farm.push_connected is True
    await event_queue.put(
        make_event(4, "printer.status", {"printer_id": "p1", "status": "printing"})
    )
    await hass.async_block_till_done()
    assert farm.last_event_id == 4
    assert hass.states.get(f"sensor.{PRUSA}_status").state == "printing"
