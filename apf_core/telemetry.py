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
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .aio import cancel_and_wait
from .domain.live import LiveStatus
from .drivers.base import PrinterMessage, PrinterState, Status, Tray
from .lifecycle.facts import Report, apply_report
from .lifecycle.states import RUNNING_JOB_STATES
from .lifecycle.status import status_event
from .storage.group import GroupWriter
from .storage.tables.spine import jobs
from .timeutil import utcnow

if TYPE_CHECKING:
    from .farm import Farm

_LOGGER = logging.getLogger(__name__)

#: a job this young is not failed by an IDLE frame (drivers that poll lag behind a start)
IDLE_GRACE_SECONDS = 15.0
#: job progress is written to the jobs row when it moved by a point (at most every
#: PROGRESS_MIN_SECONDS), or at least every PROGRESS_MAX_SECONDS while it changes
PROGRESS_MIN_SECONDS = 5.0
PROGRESS_MAX_SECONDS = 30.0
PROGRESS_STEP = 1.0
MIRROR_GRACE_SECONDS = 3.0
#: statuses in which a printer is not working on a print
RESTING = frozenset({Status.IDLE, Status.OFFLINE})


def tray_dict(tray: Tray, active_tray: int | None = None) -> dict[str, Any]:
    return {
        "tray_id": tray.tray_id,
        "unit": tray.unit,
        "slot": tray.slot,
        "filament_type": tray.filament_type,
        "color_hex": hex_colour(tray.color_hex),
        "remaining_percent": tray.remaining_percent,
        "active": active_tray is not None and tray.tray_id == active_tray,
    }


def message_dict(message: PrinterMessage) -> dict[str, Any]:
    return {
        "code": message.code,
        "severity": message.severity.api,  # the drivers' levels in the API's words
        "text": message.text,
        "url": message.url,
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
        target_chamber_temp=state.chamber_target,
        layer_num=state.layer_num,
        total_layers=state.total_layers,
        remaining_time_minutes=state.remaining_time_minutes,
        current_file=state.current_file,
        light_on=state.light_on,
        error=state.error,
        messages=[message_dict(m) for m in state.messages],
        offline_reason=state.offline_reason,
        speed_level=state.speed_level,
        speed_percent=state.speed_percent,
        trays=[tray_dict(t, state.active_tray) for t in state.trays],
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
    #: when the printer last reported IDLE after another status
    idle_since: datetime | None = None
    #: when the printer last entered or left a working status (not idle, not offline)
    worked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class IdlePrinter:
    """A printer reporting IDLE right now, for :class:`~apf_core.idle_watch.IdleWatch`."""

    printer_id: str
    idle_since: datetime
    worked_at: datetime | None


def _note_rest_and_work(tracker: _Tracker, status: Status) -> None:
    """Record when the printer became idle, and when it last entered or left work."""
    now = utcnow()
    if status is Status.IDLE and tracker.status is not Status.IDLE:
        tracker.idle_since = now
    if status not in RESTING or (tracker.status is not None and tracker.status not in RESTING):
        tracker.worked_at = now


class TelemetryBridge:
    """Turns driver frames into live state, DB transitions and events."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self._trackers: dict[str, _Tracker] = {}
        #: awaited by tests: number of transitions fully handled
        self.handled = 0
        self._progress: GroupWriter[dict[str, Any]] = GroupWriter(farm.db, self._write_progress)

    def listener(self, printer_id: str) -> Callable[[PrinterState], None]:
        return lambda state: self.on_state(printer_id, state)

    # --- hot path -----------------------------------------------------------------
    def on_state(self, printer_id: str, state: PrinterState) -> None:
        """Called by drivers (or the hub link) on every frame; never blocks."""
        previous_live = self.farm.live.get(printer_id)
        live = live_from_state(state)
        if not live.online and previous_live is not None:
            live = replace(live, last_telemetry_at=previous_live.last_telemetry_at)
        self.farm.live.set(printer_id, live)
        tracker = self._tracker(printer_id)
        filament = active_filament(state)
        if state.status is not tracker.status or (
            filament is not None and filament != tracker.filament
        ):
            tracker.pending.append(_Transition(tracker.status, state))
            _note_rest_and_work(tracker, state.status)
            tracker.status = state.status
            if filament is not None:
                tracker.filament = filament
        tracker.latest = state
        tracker.wake.set()

    def idle_printers(self) -> list[IdlePrinter]:
        return [
            IdlePrinter(t.printer_id, t.idle_since, t.worked_at)
            for t in self._trackers.values()
            if t.status is Status.IDLE and t.idle_since is not None
        ]

    def newest_frames(self, statuses: Collection[Status]) -> dict[str, PrinterState]:
        """The newest frame of each printer whose status is one of ``statuses`` now."""
        return {
            t.printer_id: t.latest
            for t in self._trackers.values()
            if t.status in statuses and t.latest is not None
        }

    def printer_gone(self, printer_id: str) -> None:
        """Its driver was detached: mark offline and stop its worker."""
        tracker = self._trackers.get(printer_id)
        if tracker is not None and tracker.status is not Status.OFFLINE:
            self.on_state(printer_id, PrinterState())
        elif printer_id in self._trackers:
            live = self.farm.live.get(printer_id)
            if live is not None:
                self.farm.live.set(printer_id, replace(live, online=False))

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # a tracker's error does not stop shutdown
            await cancel_and_wait(*(tracker.task for tracker in self._trackers.values()))
        self._trackers.clear()
        await self._progress.drain()

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
            await self._progress.add({"job": tracker.job_id, "progress": state.progress})

    @staticmethod
    async def _write_progress(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """Progress of many printers' jobs in one statement (a group commit)."""
        await conn.execute(
            update(jobs)
            .where(
                jobs.c.id == bindparam("job"),
                or_(
                    *(jobs.c.status == status for status in RUNNING_JOB_STATES)
                ),  # no IN: executemany
            )
            .values(progress_percentage=bindparam("progress")),
            rows,
        )

    @staticmethod
    def status_payload(printer_id: str, live: LiveStatus) -> dict[str, Any]:
        """The ``printer.status`` event (see :func:`~apf_core.lifecycle.status.status_event`)."""
        return status_event(printer_id, live)

    async def _transition(self, tracker: _Tracker, transition: _Transition) -> None:
        """Report the status change to the lifecycle: one write transaction per change."""
        printer_id = tracker.printer_id
        state = transition.state
        report = Report(
            printer_id,
            state.status,
            transition.previous,
            error=state.error,
            error_code=state.error_code,
            progress=state.progress,
            mirror=self._may_mirror(tracker, transition),
            idle_grace_seconds=IDLE_GRACE_SECONDS,
            start_timeout_seconds=self.farm.settings.start_timeout_seconds,
            mirror_grace_seconds=MIRROR_GRACE_SECONDS,
            messages=[message_dict(m) for m in state.messages],
            row_values=self._row_values(tracker, state),
        )
        async with self.farm.db.begin() as conn:
            job, exists = await apply_report(self.farm.lifecycle, conn, report)
            tracker.job_id = job["id"] if job else None
            if exists:
                await self._emit_printer_events(conn, printer_id, transition)

    def _may_mirror(self, tracker: _Tracker, transition: _Transition) -> bool:
        """Mirror pause/resume made at the printer only from the newest frame, and
        never while an API command to the printer is waiting for its ACK."""
        in_flight = getattr(self.farm.control, "command_in_flight", None)
        busy = bool(in_flight(tracker.printer_id)) if callable(in_flight) else False
        return not busy and tracker.status is transition.state.status

    @staticmethod
    def _row_values(tracker: _Tracker, state: PrinterState) -> dict[str, Any]:
        """Non-state printer columns this frame changes (telemetry time, filament)."""
        values: dict[str, Any] = {}
        now = utcnow()
        if state.status is not Status.OFFLINE:
            values["last_telemetry_at"] = now
        filament = active_filament(state)
        if filament is not None:
            kind, colour = filament
            if kind:
                values["current_filament_type"] = kind
            if colour:
                values["current_color_hex"] = colour
        if values:
            values["updated_at"] = now
        return values

    async def _emit_printer_events(
        self, conn: Any, printer_id: str, transition: _Transition
    ) -> None:
        state = transition.state
        previous = transition.previous
        payload = {
            "printer_id": printer_id,
            "status": state.status.value,
            "previous_status": previous.value if previous is not None else None,
        }
        if previous in (Status.OFFLINE, None) and state.status is not Status.OFFLINE:
            await self.farm.events.emit(conn, "printer.online", payload)
        elif state.status is Status.OFFLINE and previous not in (Status.OFFLINE, None):
            offline = {**payload, "offline_reason": state.offline_reason}
            await self.farm.events.emit(conn, "printer.offline", offline)
        if state.status is Status.ERROR and previous is not Status.ERROR:
            await self.farm.events.emit(
                conn,
                "printer.error",
                {
                    **payload,
                    "error": state.error,
                    "error_code": state.error_code,
                    "messages": [message_dict(m) for m in state.messages],
                },
            )
        if state.status in _AT_REST and previous not in _AT_REST:
            await self.farm.events.emit(conn, "printer.idle", payload)


_AT_REST = (Status.IDLE, Status.FINISHED, Status.CANCELLED)
