"""Driver state → live status, persisted transitions, events and the job lifecycle.

Every frame updates :attr:`Farm.live` synchronously (cheap: no I/O). A frame
whose status or loaded filament differs from the previous one is queued as a
*transition* for the printer's worker task, which persists it to the printers
row, emits ``printer.online/offline/error`` and moves the printer's job
(``processing → printing``, pause/resume made at the printer, ``completed`` on
FINISHED, ``failed`` on ERROR or a cancel made at the printer). High-rate
``printer.status`` and ``job.progress`` events go through
:meth:`EventBus.emit_coalesced`.

A printer that goes OFFLINE mid-print keeps its job ``printing``; when it comes
back, its next state (still printing, finished, or idle without the job) drives
the job from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from .domain.live import LiveStatus
from .drivers.base import PrinterState, Status, Tray
from .errors import ApiError
from .storage.tables.spine import jobs, printers
from .timeutil import utcnow

if TYPE_CHECKING:
    from .farm import Farm

_LOGGER = logging.getLogger(__name__)

#: normalised driver status -> the printers.status column
ROW_STATUS: dict[Status, str] = {
    Status.OFFLINE: "offline",
    Status.IDLE: "idle",
    Status.PREPARING: "printing",
    Status.PRINTING: "printing",
    Status.PAUSING: "printing",
    Status.PAUSED: "paused",
    Status.CANCELLING: "printing",
    Status.FINISHED: "idle",
    Status.CANCELLED: "idle",
    Status.ERROR: "error",
}
ACTIVE_JOB_STATES = ("processing", "uploaded", "printing", "paused")
#: a job this young is not failed by an IDLE frame (drivers that poll lag behind a start)
IDLE_GRACE_SECONDS = 15.0
#: job progress is written to the jobs row when it moved by a point (at most every
#: PROGRESS_MIN_SECONDS), or at least every PROGRESS_MAX_SECONDS while it changes
PROGRESS_MIN_SECONDS = 5.0
PROGRESS_MAX_SECONDS = 30.0
PROGRESS_STEP = 1.0
MIRROR_GRACE_SECONDS = 3.0


def tray_dict(tray: Tray) -> dict[str, Any]:
    return {
        "tray_id": tray.tray_id,
        "filament_type": tray.filament_type,
        "color_hex": hex_colour(tray.color_hex),
        "remaining_percent": tray.remaining_percent,
    }


def hex_colour(value: str | None) -> str | None:
    """``FF6600`` / ``FF6600FF`` / ``#ff6600`` -> ``#FF6600``."""
    if not value:
        return None
    text = value.lstrip("#").upper()
    if len(text) == 8:
        text = text[:6]
    return f"#{text}" if len(text) == 6 else None


def active_filament(state: PrinterState) -> tuple[str | None, str | None] | None:
    """(filament_type, colour hex) of the active tray, or None when no tray is active."""
    if state.active_tray is None:
        return None
    for tray in state.trays:
        if tray.tray_id == state.active_tray:
            return tray.filament_type, hex_colour(tray.color_hex)
    return None


def live_from_state(state: PrinterState) -> LiveStatus:
    return LiveStatus(
        online=state.status is not Status.OFFLINE,
        status=state.status.value,
        progress=state.progress,
        nozzle_temp=state.nozzle_temp,
        bed_temp=state.bed_temp,
        chamber_temp=state.chamber_temp,
        target_nozzle_temp=state.nozzle_target,
        target_bed_temp=state.bed_target,
        layer_num=state.layer_num,
        total_layers=state.total_layers,
        remaining_time_minutes=state.remaining_time_minutes,
        current_file=state.current_file,
        light_on=state.light_on,
        error=state.error,
        trays=[tray_dict(t) for t in state.trays],
        last_telemetry_at=utcnow(),
    )


@dataclass(slots=True)
class _Transition:
    previous: Status | None  # None: the first frame since start-up
    state: PrinterState


@dataclass(slots=True)
class _Tracker:
    printer_id: str
    status: Status | None = None
    filament: tuple[str | None, str | None] | None = None
    latest: PrinterState | None = None
    pending: deque[_Transition] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    job_id: str | None = None
    last_progress_write: float = 0.0
    last_progress: float | None = None


class TelemetryBridge:
    """Turns driver frames into live state, DB transitions and events."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self._trackers: dict[str, _Tracker] = {}
        #: awaited by tests: number of transitions fully handled
        self.handled = 0

    def listener(self, printer_id: str) -> Callable[[PrinterState], None]:
        return lambda state: self.on_state(printer_id, state)

    # --- hot path -----------------------------------------------------------------
    def on_state(self, printer_id: str, state: PrinterState) -> None:
        """Called by drivers (or the hub link) on every frame; never blocks."""
        previous_live = self.farm.live.get(printer_id)
        live = live_from_state(state)
        if not live.online and previous_live is not None:
            live.last_telemetry_at = previous_live.last_telemetry_at
        self.farm.live.set(printer_id, live)
        tracker = self._tracker(printer_id)
        filament = active_filament(state)
        if state.status is not tracker.status or (
            filament is not None and filament != tracker.filament
        ):
            tracker.pending.append(_Transition(tracker.status, state))
            tracker.status = state.status
            if filament is not None:
                tracker.filament = filament
        tracker.latest = state
        tracker.wake.set()

    def printer_gone(self, printer_id: str) -> None:
        """Its driver was detached: mark offline and stop its worker."""
        tracker = self._trackers.get(printer_id)
        if tracker is not None and tracker.status is not Status.OFFLINE:
            self.on_state(printer_id, PrinterState())
        elif printer_id in self._trackers:
            live = self.farm.live.get(printer_id)
            if live is not None:
                live.online = False

    async def stop(self) -> None:
        for tracker in self._trackers.values():
            if tracker.task is not None:
                tracker.task.cancel()
        for tracker in self._trackers.values():
            if tracker.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await tracker.task
        self._trackers.clear()

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every queued transition was handled (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while any(t.pending for t in self._trackers.values()):
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.02)

    def _tracker(self, printer_id: str) -> _Tracker:
        tracker = self._trackers.get(printer_id)
        if tracker is None:
            tracker = _Tracker(printer_id)
            self._trackers[printer_id] = tracker
        if tracker.task is None or tracker.task.done():
            tracker.task = asyncio.get_running_loop().create_task(
                self._work(tracker), name=f"telemetry {printer_id}"
            )
        return tracker

    # --- worker -------------------------------------------------------------------
    async def _work(self, tracker: _Tracker) -> None:
        while True:
            await tracker.wake.wait()
            while tracker.pending:
                transition = tracker.pending[0]
                try:
                    await self._transition(tracker, transition)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("printer %s: telemetry transition failed", tracker.printer_id)
                tracker.pending.popleft()
                self.handled += 1
            try:
                await self._stream(tracker)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("printer %s: telemetry event failed", tracker.printer_id)
            if not tracker.pending:
                tracker.wake.clear()

    async def _stream(self, tracker: _Tracker) -> None:
        """Coalesced status/progress events and a throttled progress write."""
        state = tracker.latest
        if state is None:
            return
        live = self.farm.live.get(tracker.printer_id)
        if live is None:
            return
        await self.farm.events.emit_coalesced(
            "printer.status", tracker.printer_id, self.status_payload(tracker.printer_id, live)
        )
        if tracker.job_id is None or state.status not in (Status.PRINTING, Status.PAUSED):
            return
        if state.progress is None:
            return
        await self.farm.events.emit_coalesced(
            "job.progress",
            tracker.job_id,
            {
                "job_id": tracker.job_id,
                "printer_id": tracker.printer_id,
                "progress_percentage": state.progress,
                "layer_num": state.layer_num,
                "total_layers": state.total_layers,
                "remaining_time_minutes": state.remaining_time_minutes,
            },
        )
        now = time.monotonic()
        since = now - tracker.last_progress_write
        moved = abs(state.progress - (tracker.last_progress or 0.0))
        if state.progress != tracker.last_progress and (
            since >= PROGRESS_MAX_SECONDS
            or (since >= PROGRESS_MIN_SECONDS and moved >= PROGRESS_STEP)
        ):
            tracker.last_progress_write = now
            tracker.last_progress = state.progress
            async with self.farm.db.begin() as conn:
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == tracker.job_id, jobs.c.status == "printing")
                    .values(progress_percentage=state.progress)
                )

    @staticmethod
    def status_payload(printer_id: str, live: LiveStatus) -> dict[str, Any]:
        return {
            "printer_id": printer_id,
            "status": live.status,
            "online": live.online,
            "progress": live.progress,
            "nozzle_temp": live.nozzle_temp,
            "bed_temp": live.bed_temp,
            "chamber_temp": live.chamber_temp,
            "target_nozzle_temp": live.target_nozzle_temp,
            "target_bed_temp": live.target_bed_temp,
            "layer_num": live.layer_num,
            "total_layers": live.total_layers,
            "remaining_time_minutes": live.remaining_time_minutes,
        }

    async def _transition(self, tracker: _Tracker, transition: _Transition) -> None:
        printer_id = tracker.printer_id
        job = await self._active_job(printer_id)
        tracker.job_id = job["id"] if job else None
        if job is not None:
            mirror = self._may_mirror(tracker, transition) and not self._recently_changed(job)
            await self._drive_job(job, transition, mirror=mirror)
            job = await self._active_job(printer_id)
            tracker.job_id = job["id"] if job else None
        await self._persist(printer_id, transition)

    async def _active_job(self, printer_id: str) -> dict[str, Any] | None:
        async with self.farm.db.read() as conn:
            row = (
                (
                    await conn.execute(
                        select(jobs.c.id, jobs.c.status, jobs.c.time_started, jobs.c.updated_at)
                        .where(
                            jobs.c.printer_id == printer_id, jobs.c.status.in_(ACTIVE_JOB_STATES)
                        )
                        .order_by(jobs.c.updated_at.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row is not None else None

    def _may_mirror(self, tracker: _Tracker, transition: _Transition) -> bool:
        """Mirror pause/resume made at the printer only from the newest frame, and
        never while an API command to the printer is waiting for its ACK."""
        in_flight = getattr(self.farm.control, "command_in_flight", None)
        busy = bool(in_flight(tracker.printer_id)) if callable(in_flight) else False
        return not busy and tracker.status is transition.state.status

    async def _drive_job(
        self, job: dict[str, Any], transition: _Transition, *, mirror: bool
    ) -> None:
        from .services.jobs import JobService

        service = JobService(self.farm)
        state = transition.state
        status = job["status"]
        job_id = job["id"]
        try:
            match state.status:
                case Status.PREPARING | Status.PRINTING:
                    if status in ("processing", "uploaded"):
                        await service.mark_printing_if_starting(job_id)
                    elif status == "paused" and mirror:
                        await service.sync_status(job_id, "paused", "printing", "job.resumed")
                case Status.PAUSED:
                    if status == "printing" and mirror:
                        await service.sync_status(job_id, "printing", "paused", "job.paused")
                case Status.FINISHED:
                    if status in ("printing", "paused"):
                        await service.complete(job_id)
                case Status.ERROR:
                    if status in ("printing", "paused"):
                        reason = state.error or "Printer reported an error"
                        if state.error_code is not None:
                            reason = f"{reason} (code {state.error_code})"
                        await service.fail(job_id, reason)
                case Status.CANCELLED:
                    if status in ("printing", "paused"):
                        await service.fail(job_id, "Cancelled at the printer")
                case Status.IDLE:
                    if status in ("printing", "paused") and self._old_enough(job):
                        reason = (
                            "Printer came back without the print (power loss?)"
                            if transition.previous in (Status.OFFLINE, None)
                            else "Printer stopped printing without reporting a result"
                        )
                        await service.fail(job_id, reason)
                case _:
                    pass  # OFFLINE keeps the job printing; PAUSING/CANCELLING are transient
        except ApiError as err:  # the job moved concurrently (a user action won)
            _LOGGER.info("job %s: telemetry update skipped: %s", job_id, err.code)

    @staticmethod
    def _recently_changed(job: dict[str, Any]) -> bool:
        """An API action on the job just now wins over a frame that may predate it."""
        changed = job["updated_at"]
        return changed is not None and (utcnow() - changed).total_seconds() < MIRROR_GRACE_SECONDS

    @staticmethod
    def _old_enough(job: dict[str, Any]) -> bool:
        started = job["time_started"]
        return started is None or (utcnow() - started).total_seconds() >= IDLE_GRACE_SECONDS

    async def _persist(self, printer_id: str, transition: _Transition) -> None:
        state = transition.state
        previous = transition.previous
        now = utcnow()
        async with self.farm.db.begin() as conn:
            row = (
                (
                    await conn.execute(
                        select(
                            printers.c.status,
                            printers.c.in_maintenance,
                            printers.c.current_filament_type,
                            printers.c.current_color_hex,
                        )
                        .where(printers.c.id == printer_id)
                        .with_for_update()
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return
            values: dict[str, Any] = {}
            mapped = ROW_STATUS[state.status]
            if not row["in_maintenance"] and row["status"] != mapped:
                values["status"] = mapped
            if state.status is not Status.OFFLINE:
                values["last_telemetry_at"] = now
            filament = active_filament(state)
            if filament is not None:
                kind, colour = filament
                if kind and kind != row["current_filament_type"]:
                    values["current_filament_type"] = kind
                if colour and colour != row["current_color_hex"]:
                    values["current_color_hex"] = colour
            if values:
                values["updated_at"] = now
                await conn.execute(
                    update(printers).where(printers.c.id == printer_id).values(**values)
                )
            payload = {
                "printer_id": printer_id,
                "status": state.status.value,
                "previous_status": previous.value if previous is not None else None,
            }
            if previous in (Status.OFFLINE, None) and state.status is not Status.OFFLINE:
                await self.farm.events.emit(conn, "printer.online", payload)
            elif state.status is Status.OFFLINE and previous not in (Status.OFFLINE, None):
                await self.farm.events.emit(conn, "printer.offline", payload)
            if state.status is Status.ERROR and previous is not Status.ERROR:
                await self.farm.events.emit(
                    conn,
                    "printer.error",
                    {**payload, "error": state.error, "error_code": state.error_code},
                )
            if state.status in (
                Status.IDLE,
                Status.FINISHED,
                Status.CANCELLED,
            ) and previous not in (
                Status.IDLE,
                Status.FINISHED,
                Status.CANCELLED,
            ):
                await self.farm.events.emit(conn, "printer.idle", payload)
