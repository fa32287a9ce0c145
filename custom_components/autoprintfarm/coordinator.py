"""Coordinators: farm status (push + polling fallback) and stock (slow polling)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .apf_client import (
    APFAuthenticationError,
    ApfClient,
    APFConnectionError,
    APFError,
    APFEventStreamUnavailable,
    APFInsufficientScopeError,
    APFNotFoundError,
    APFRateLimitError,
    FarmEvent,
    Job,
    Printer,
    PrinterStatus,
    ServerInfo,
)
from .compat import update_failed
from .const import (
    ACTIVE_STATES,
    CONF_SCAN_INTERVAL,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    EVENT_APF,
    EVENT_TYPE_MAP,
    LOGGER,
    PUSH_MAX_BACKOFF,
    PUSH_SAFETY_INTERVAL,
    SIGNAL_EVENT,
    STOCK_INTERVAL,
    STREAM_TYPES,
)
from .data import JOB_TO_PRINTER_STATE, FarmData, PrinterData, StockData, build_printer_data


@dataclass(kw_only=True)
class ApfRuntimeData:
    """What a loaded config entry owns."""

    client: ApfClient
    server: ServerInfo
    farm: ApfFarmCoordinator
    stock: ApfStockCoordinator
    hub_device_id: str
    options_at_setup: dict[str, Any] = field(default_factory=dict)


type ApfConfigEntry = ConfigEntry[ApfRuntimeData]


class _EventLogRestarted(APFError):
    """The server's event ids went backwards; resume the stream from the start."""


def _map_error(err: APFError) -> Exception:
    """Coordinator failure for a library error."""
    if isinstance(err, APFAuthenticationError):
        return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="auth_failed")
    if isinstance(err, APFRateLimitError):
        return update_failed(key="rate_limited", retry_after=err.retry_after)
    if isinstance(err, APFConnectionError):
        return update_failed(key="cannot_connect", placeholders={"error": str(err)})
    return update_failed(key="update_failed", placeholders={"error": str(err)})


class _OutageLogFilter(logging.LoggerAdapter[logging.Logger]):
    """Stock-coordinator logger that stays quiet about an outage the farm already logged.

    One server outage is logged once when it starts and once when it ends, by the farm
    coordinator; other stock failures are logged as usual.
    """

    def __init__(self) -> None:
        super().__init__(LOGGER)
        self.server_reachable: Callable[[], bool] = lambda: True
        self._hidden_outage = False

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        text = str(msg)
        if text.startswith(("Error fetching", "Error requesting")) and not self.server_reachable():
            self._hidden_outage = True
            return
        if text.endswith("recovered") and self._hidden_outage:
            self._hidden_outage = False
            return
        super().log(level, msg, *args, **kwargs)


class ApfStockCoordinator(DataUpdateCoordinator[StockData]):
    """Finished goods and filament spools; changes slowly."""

    config_entry: ApfConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ApfConfigEntry, client: ApfClient) -> None:
        self.log_filter = _OutageLogFilter()
        super().__init__(
            hass,
            cast(logging.Logger, self.log_filter),
            config_entry=entry,
            name=f"{DOMAIN} stock",
            update_interval=STOCK_INTERVAL,
        )
        self.client = client

    async def _async_update_data(self) -> StockData:
        try:
            inventory = await _optional(self.client.inventory())
            filaments = await _optional(self.client.filaments())
        except APFError as err:
            raise _map_error(err) from err
        return StockData(
            inventory={i.id: i for i in inventory or []},
            filaments={f.id: f for f in filaments or []},
        )


async def _optional[T](call: Awaitable[list[T]]) -> list[T] | None:
    """A list endpoint the server may lack (404) or forbid (403)."""
    try:
        return await call
    except (APFNotFoundError, APFInsufficientScopeError):
        return None


class ApfFarmCoordinator(DataUpdateCoordinator[FarmData]):
    """Printers, their live status and job counts; fed by the event stream."""

    config_entry: ApfConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ApfConfigEntry,
        client: ApfClient,
        stock: ApfStockCoordinator,
    ) -> None:
        self.poll_interval = timedelta(
            seconds=entry.options.get(CONF_SCAN_INTERVAL, DEFAULT_SCAN_INTERVAL)
        )
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} farm",
            update_interval=self.poll_interval,
        )
        self.client = client
        self.stock = stock
        self.server_reachable = True
        stock.log_filter.server_reachable = lambda: self.server_reachable
        self.push_connected = False
        self.push_supported: bool | None = None
        self.last_event_id: int | None = None
        self._backoff = 1.0
        self._bed_clear: set[str] = set()
        self.hub_device_id: str | None = None
        self.on_printers_fetched: Callable[[set[str]], None] | None = None

    # --- polling -------------------------------------------------------
    async def _async_update_data(self) -> FarmData:
        try:
            data = await self._fetch()
        except APFConnectionError as err:
            self.server_reachable = False
            failure = _map_error(err)
            self.stock.async_set_update_error(failure)  # all entities go unavailable together
            raise failure from err
        except APFError as err:
            raise _map_error(err) from err
        if not self.server_reachable:
            self.server_reachable = True
            self.config_entry.async_create_background_task(
                self.hass, self.stock.async_request_refresh(), f"{DOMAIN}_stock_recover"
            )
        if self.on_printers_fetched is not None:
            self.on_printers_fetched(set(data.printers))
        return data

    async def _fetch(self) -> FarmData:
        listed = [p for p in await self.client.printers() if p.is_active]
        details = await asyncio.gather(*(self._detail(p) for p in listed))
        printers = [p for p in details if p is not None]
        statuses = await asyncio.gather(*(self._status(p.id) for p in printers))
        job_ids = sorted({s.current_job_id for s in statuses if s and s.current_job_id})
        jobs = dict(
            zip(job_ids, await asyncio.gather(*(self._job(j) for j in job_ids)), strict=True)
        )
        stats = await self.client.job_stats()
        failed_today = stats.failed_today
        if failed_today is None:
            failed_today = await self._count_failed_today()
        result: dict[str, PrinterData] = {}
        for printer, status in zip(printers, statuses, strict=True):
            job = jobs.get(status.current_job_id) if status and status.current_job_id else None
            data = build_printer_data(printer, status, job, printer.id in self._bed_clear)
            self._track_bed_clear(data)
            result[printer.id] = data
        return FarmData(printers=result, job_stats=stats, failed_today=failed_today)

    async def _detail(self, listed: Printer) -> Printer | None:
        """The detail projection (maintenance, firmware, bed-clear flag)."""
        try:
            return await self.client.printer(listed.id)
        except APFNotFoundError:  # deleted since the list call
            return None

    async def _status(self, printer_id: str) -> PrinterStatus | None:
        try:
            return await self.client.printer_status(printer_id)
        except APFNotFoundError:  # deleted between the list and this call
            return None

    async def _job(self, job_id: str) -> Job | None:
        try:
            return await self.client.job(job_id)
        except APFNotFoundError:
            return None

    async def _count_failed_today(self) -> int:
        midnight = dt_util.start_of_local_day()
        try:
            history = await self.client.jobs_history(since=midnight)
        except APFNotFoundError:
            return 0
        return sum(
            1
            for job in history
            if job.status == "failed"
            and job.time_completed is not None
            and job.time_completed >= midnight
        )

    def _track_bed_clear(self, data: PrinterData) -> None:
        if data.awaiting_bed_clear:
            self._bed_clear.add(data.printer.id)
        else:
            self._bed_clear.discard(data.printer.id)

    @callback
    def async_mark_bed_cleared(self, printer_id: str) -> None:
        """Forget the bed-clear flag after the user cleared the bed."""
        self._bed_clear.discard(printer_id)
        if self.data and (current := self.data.printers.get(printer_id)):
            printer = replace(current.printer, awaiting_bed_clear=False)
            self._replace_printer(replace(current, printer=printer, awaiting_bed_clear=False))

    @callback
    def async_update_printer(self, printer: Printer) -> None:
        """Take a printer resource returned by a command."""
        if self.data and (current := self.data.printers.get(printer.id)):
            self._replace_printer(replace(current, printer=printer))

    # --- push ----------------------------------------------------------
    @callback
    def async_start_push(self) -> None:
        """Start the event-stream consumer; it dies with the config entry."""
        self.config_entry.async_create_background_task(
            self.hass, self._push_loop(), f"{DOMAIN}_push_{self.config_entry.entry_id}"
        )

    def _on_stream_connected(self, server_last_event_id: int | None) -> None:
        if (
            server_last_event_id is not None
            and self.last_event_id is not None
            and server_last_event_id < self.last_event_id
        ):
            # The server's event log started over (restored or new database): resume from 0.
            self.last_event_id = None
            raise _EventLogRestarted("the server's event ids restarted")
        if not self.push_connected:
            LOGGER.debug("Event stream connected")
        if not self.last_update_success:  # the server is back: do not wait for the next poll
            self.config_entry.async_create_background_task(
                self.hass, self.async_refresh(), f"{DOMAIN}_reconnected"
            )
        self.push_connected = True
        self.push_supported = True
        self._backoff = 1.0
        self.update_interval = PUSH_SAFETY_INTERVAL

    async def _push_loop(self) -> None:
        self._backoff = 1.0
        while True:
            try:
                # aclosing: on cancel (unload) the socket closes now, not when the generator
                # is garbage collected (its heartbeat timer would outlive the entry).
                async with contextlib.aclosing(
                    self.client.events(
                        STREAM_TYPES, self.last_event_id, on_connect=self._on_stream_connected
                    )
                ) as stream:
                    async for event in stream:
                        self.last_event_id = event.id
                        await self._handle_event(event)
            except APFEventStreamUnavailable:
                LOGGER.info("The server has no event stream; polling every %s", self.poll_interval)
                self.push_supported = False
                self._stream_down()
                return
            except APFAuthenticationError:
                self._stream_down()
                self.config_entry.async_start_reauth(self.hass)
                return
            except _EventLogRestarted as err:
                LOGGER.info("Reconnecting to the event stream: %s", err)
                self._stream_down()
                await self.async_request_refresh()
                continue
            except APFError as err:
                LOGGER.debug("Event stream lost: %s", err)
            except Exception:  # never let the push task die silently
                LOGGER.exception("Unexpected error in the event stream; reconnecting")
            if self.push_connected:
                self._stream_down()
                await self.async_request_refresh()  # catch up on anything missed
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, PUSH_MAX_BACKOFF)

    def _stream_down(self) -> None:
        self.push_connected = False
        self.update_interval = self.poll_interval

    async def _handle_event(self, event: FarmEvent) -> None:
        LOGGER.debug("Event %s: %s", event.id, event.type)
        refresh = self._apply_event(event)
        self._fire_event(event)
        if event.type.startswith(("inventory.", "material.", "order.")):
            await self.stock.async_request_refresh()
        if refresh:
            await self.async_request_refresh()

    def _apply_event(self, event: FarmEvent) -> bool:
        """Update the data from one event; True when a full refresh is needed."""
        if self.data is None:
            return True
        try:
            if event.type == "printer.status":
                return self._apply_status(PrinterStatus.from_dict(event.data), event.data)
            if event.type == "job.progress":
                self._apply_job_progress(event)
                return False
            if event.type.startswith("job."):
                return self._apply_job(Job.from_dict(event.data))
        except APFError:
            LOGGER.debug("Ignoring malformed %s event %s", event.type, event.id)
            return False
        if event.type.startswith("printer.") and event.printer_id:
            return self._apply_printer_event(event)
        return False

    def _apply_status(self, pushed: PrinterStatus, fields: dict[str, Any]) -> bool:
        """A ``printer.status`` push updates the fields it carries (live readings, messages,
        trays, offline reason); the job and colour stay as the last poll or event left them."""
        current = self.data.printers.get(pushed.printer_id)
        if current is None:
            return True  # a printer we do not know yet
        status = current.status.updated_by(fields) if current.status is not None else pushed
        job = current.job if current.job and current.job.id == status.current_job_id else None
        data = build_printer_data(
            current.printer, status, job, status.printer_id in self._bed_clear
        )
        self._track_bed_clear(data)
        self._replace_printer(data)
        return status.current_job_id is not None and job is None

    def _apply_job(self, job: Job) -> bool:
        """A job event also tells what its printer is doing (status pushes are coalesced)."""
        current = self.data.printers.get(job.printer_id or "")
        takes_over = job.status in ("printing", "paused")
        if current is not None and (current.job is None or current.job.id == job.id or takes_over):
            data = replace(current, job=job)
            printer_state = JOB_TO_PRINTER_STATE.get(job.status)
            if printer_state is not None and current.status is not None and current.online:
                status = replace(current.status, status=printer_state)
                data = build_printer_data(
                    current.printer, status, job, current.printer.id in self._bed_clear
                )
            self._replace_printer(data)
        return True  # job counts changed

    def _apply_job_progress(self, event: FarmEvent) -> None:
        current = self.data.printers.get(event.printer_id or "")
        progress = event.data.get("progress_percentage")
        if current is None or current.job is None or current.job.id != event.data.get("job_id"):
            return
        if isinstance(progress, (int, float)) and not isinstance(progress, bool):
            self._replace_printer(
                replace(current, job=replace(current.job, progress_percentage=progress))
            )

    def _apply_printer_event(self, event: FarmEvent) -> bool:
        assert event.printer_id is not None
        current = self.data.printers.get(event.printer_id)
        if current is None:
            return True
        new_state = event.data.get("status")
        status = current.status or PrinterStatus(printer_id=event.printer_id)
        printer = current.printer
        if isinstance(new_state, str) and event.type != "printer.bed_clear_required":
            status = replace(status, status=new_state, hub_online=new_state != "offline")
        if event.type == "printer.error" and isinstance(event.data.get("error"), str):
            status = replace(status, error=event.data["error"])
        if event.type in ("printer.offline", "printer.online", "printer.error"):
            # the reason it went offline, the messages with an error (printer.status, coalesced,
            # may come a second later)
            status = status.updated_by(
                {
                    k: v
                    for k, v in event.data.items()
                    if k in ("printer_id", "offline_reason", "messages")
                }
            )
            if event.type == "printer.online":
                status = replace(status, offline_reason=None)
        if event.type == "printer.bed_clear_required":
            # The print is over even if the matching status push has not arrived yet.
            self._bed_clear.add(event.printer_id)
            printer = replace(printer, awaiting_bed_clear=True)
            if status.status in ACTIVE_STATES:
                status = replace(status, status="idle")
        data = build_printer_data(printer, status, current.job, event.printer_id in self._bed_clear)
        self._replace_printer(data)
        return event.type == "printer.online"

    def _replace_printer(self, data: PrinterData) -> None:
        printers = {**self.data.printers, data.printer.id: data}
        # Not async_set_updated_data: that would cancel the refresh debouncer (a burst of
        # events would poll once each) and mark an outage as over before a poll proves it.
        self.data = replace(self.data, printers=printers)
        self.async_update_listeners()

    # --- bus events ------------------------------------------------------
    def printer_device_id(self, printer_id: str) -> str | None:
        """Registry id of a printer's device."""
        registry = dr.async_get(self.hass)
        for device in dr.async_entries_for_config_entry(registry, self.config_entry.entry_id):
            if (DOMAIN, printer_id) in device.identifiers:
                return device.id
        return None

    def _fire_event(self, event: FarmEvent) -> None:
        trigger = EVENT_TYPE_MAP.get(event.type)
        if trigger is None:
            return
        printer_id = event.printer_id
        device_id = self.printer_device_id(printer_id) if printer_id else None
        payload: dict[str, Any] = {
            "device_id": device_id or self.hub_device_id,
            "type": trigger,
            "event": event.type,
            "event_id": event.id,
            "config_entry_id": self.config_entry.entry_id,
            "printer_id": printer_id,
            "data": dict(event.data),
        }
        if event.type.startswith("job."):
            payload["job_id"] = event.data.get("id")
        self.hass.bus.async_fire(EVENT_APF, payload)
        async_dispatcher_send(
            self.hass, SIGNAL_EVENT.format(entry_id=self.config_entry.entry_id), payload
        )
