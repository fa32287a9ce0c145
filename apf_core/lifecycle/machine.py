"""The one writer of ``jobs.status``, ``printers.status`` and the bed-clear flag.

Every change is a compare-and-set (``UPDATE ... WHERE status = <expected>``): of two
racing paths exactly one wins and the other gets ``None`` back. A job transition
emits the one event :data:`JOB_TRANSITIONS` names, in the caller's transaction,
together with what it implies for the job's printer (running, paused, released).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.events import EventBus
from ..errors import NotFound
from ..storage.tables.spine import jobs, printers
from ..timeutil import utcnow
from .states import (
    ACTIVE_JOB_STATES,
    COMMAND_RESERVATIONS,
    FINISHED_JOB_STATES,
    JOB_TRANSITIONS,
    MESSAGE_EVENTS,
    PRINTER_FOR_JOB,
    RUNNING_JOB_STATES,
    JobStatus,
    PrinterStatus,
)
from .views import job_view

#: runs inside the transaction that completes a job (stock, assembly tasks, orders)
JobHook = Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]


class Lifecycle:
    """Compare-and-set transitions of jobs and printers, each with its event."""

    def __init__(self, events: EventBus) -> None:
        self.events = events
        self._on_completed: list[JobHook] = []

    def on_job_completed(self, hook: JobHook) -> None:
        """Subscribe ``hook`` to completions; it runs in the completing transaction."""
        self._on_completed.append(hook)

    # --- jobs -----------------------------------------------------------------------
    async def move_job(
        self,
        conn: AsyncConnection,
        job_id: str,
        to: JobStatus,
        *,
        expect: Iterable[str] | None = None,
        values: dict[str, Any] | None = None,
        announce: bool = True,
        messages: Iterable[dict[str, Any]] = (),
    ) -> dict[str, Any] | None:
        """Move the job to ``to`` if it is in one of ``expect`` (default: every state the
        table allows). Returns the new row, or None when another path got there first.
        ``messages`` are the printer's messages when its report caused the move."""
        previous = await self._job_status(conn, job_id)
        allowed = set(expect) if expect is not None else {a for (a, b) in JOB_TRANSITIONS}
        if previous not in allowed or (previous, to) not in JOB_TRANSITIONS:
            return None
        now = utcnow()
        result = await conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == previous)
            .values(**(values or {}), status=to, updated_at=now)
        )
        if result.rowcount == 0:
            return None
        row = await self._job_row(conn, job_id)
        if announce:
            await self.announce(conn, row, previous, messages)
        return row

    async def announce(
        self,
        conn: AsyncConnection,
        row: dict[str, Any],
        previous: str,
        messages: Iterable[dict[str, Any]] = (),
    ) -> None:
        """What a job transition means for its printer, the completion hooks and the event.
        ``job.paused`` and ``job.failed`` carry the printer's ``messages`` (empty when an
        API action, not the printer, caused the move)."""
        to = JobStatus(row["status"])
        if to is JobStatus.COMPLETED:
            for hook in self._on_completed:
                await hook(conn, row)
        printer_id = row["printer_id"]
        if printer_id and to in PRINTER_FOR_JOB:
            await self.set_printer(conn, printer_id, PRINTER_FOR_JOB[to])
        elif printer_id and to in FINISHED_JOB_STATES:
            await self._count_print_time(conn, row)
            if previous in ACTIVE_JOB_STATES:  # only the job that held the printer frees it
                await self._release_printer(conn, row)
        event = JOB_TRANSITIONS[(JobStatus(previous), to)]
        if event is not None:
            data = job_view(row)
            if event in MESSAGE_EVENTS:
                data["messages"] = [dict(m) for m in messages]
            await self.events.emit(conn, event, data)

    async def revert_job(self, conn: AsyncConnection, job_id: str, action: str) -> bool:
        """Undo the reservation ``action`` made when its command did not reach the printer."""
        froms, reserved = COMMAND_RESERVATIONS[action]
        return await self._revert(conn, job_id, reserved, froms)

    async def revert_start(self, conn: AsyncConnection, job_id: str) -> bool:
        return await self._revert(conn, job_id, JobStatus.PROCESSING, (JobStatus.QUEUED,))

    async def _revert(
        self, conn: AsyncConnection, job_id: str, reserved: JobStatus, froms: Iterable[JobStatus]
    ) -> bool:
        back = next(iter(froms))
        result = await conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == reserved)
            .values(status=back, updated_at=utcnow())
        )
        return bool(result.rowcount)

    async def _count_print_time(self, conn: AsyncConnection, job: dict[str, Any]) -> None:
        minutes = job.get("actual_print_time_minutes")
        if minutes:
            await conn.execute(
                update(printers)
                .where(printers.c.id == job["printer_id"])
                .values(total_print_time=printers.c.total_print_time + minutes)
            )

    async def _release_printer(self, conn: AsyncConnection, job: dict[str, Any]) -> None:
        """The job that held the printer ended: the printer is idle, and a part may be on
        the bed when the print had started."""
        await self.set_printer(
            conn, job["printer_id"], PrinterStatus.IDLE, expect=RUNNING_JOB_STATES
        )
        values: dict[str, Any] = {"updated_at": utcnow()}
        bed = job["time_started"] is not None
        if bed:
            values["awaiting_bed_clear"] = True
        await conn.execute(
            update(printers).where(printers.c.id == job["printer_id"]).values(**values)
        )
        if bed:
            await self.events.emit(
                conn,
                "printer.bed_clear_required",
                {"printer_id": job["printer_id"], "job_id": job["id"], "status": job["status"]},
            )

    # --- printers -------------------------------------------------------------------
    async def set_printer(
        self,
        conn: AsyncConnection,
        printer_id: str,
        to: PrinterStatus,
        *,
        expect: Iterable[str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """Set the printer row's status if it is in ``expect`` (default: anything but
        maintenance, which only :meth:`set_maintenance` leaves)."""
        query = update(printers).where(printers.c.id == printer_id, printers.c.status != to)
        if expect is not None:
            query = query.where(printers.c.status.in_(tuple(expect)))
        else:
            query = query.where(printers.c.status != PrinterStatus.MAINTENANCE)
        result = await conn.execute(query.values(**(values or {}), status=to, updated_at=utcnow()))
        return bool(result.rowcount)

    async def set_printer_values(
        self, conn: AsyncConnection, printer_id: str, values: dict[str, Any]
    ) -> None:
        """Columns that are not states (telemetry time, loaded filament)."""
        if "status" in values or "awaiting_bed_clear" in values:
            raise ValueError("states change only through a transition")
        await conn.execute(update(printers).where(printers.c.id == printer_id).values(**values))

    async def set_maintenance(
        self, conn: AsyncConnection, printer_id: str, to: PrinterStatus, values: dict[str, Any]
    ) -> None:
        """Enter (``to`` = maintenance) or leave maintenance; the caller checked the rules."""
        await conn.execute(
            update(printers).where(printers.c.id == printer_id).values(**values, status=to)
        )

    async def clear_bed(self, conn: AsyncConnection, printer_id: str) -> str | None:
        """Acknowledge the part is off the bed. Clears a leftover ``error`` too (the person
        looked at the printer). Returns the printer status, or None when no clear was due."""
        row = (
            (
                await conn.execute(
                    select(printers.c.status, printers.c.awaiting_bed_clear).where(
                        printers.c.id == printer_id
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None or not row["awaiting_bed_clear"]:
            return None
        status = row["status"]
        if status in ("idle", "printing", "paused", "error"):
            status = PrinterStatus.IDLE
        result = await conn.execute(
            update(printers)
            .where(printers.c.id == printer_id, printers.c.awaiting_bed_clear.is_(True))
            .values(awaiting_bed_clear=False, status=status, updated_at=utcnow())
        )
        return str(status) if result.rowcount else None

    # --- reads ------------------------------------------------------------------------
    async def _job_status(self, conn: AsyncConnection, job_id: str) -> str:
        status = await conn.scalar(select(jobs.c.status).where(jobs.c.id == job_id))
        if status is None:
            raise NotFound("Job not found", code="JOB_NOT_FOUND")
        return str(status)

    async def _job_row(self, conn: AsyncConnection, job_id: str) -> dict[str, Any]:
        row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).mappings().first()
        if row is None:
            raise NotFound("Job not found", code="JOB_NOT_FOUND")
        return dict(row)
