"""Print jobs: the queue, the state machine, and physical start/pause/resume/stop.

Every status change goes through :class:`apf_core.lifecycle.Lifecycle`. Physical
transitions reserve the new state first (a compare-and-set, so two callers cannot
both win), send the command, then either announce it (the event) or revert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.control import PrinterCommand
from ..errors import BadRequest, Conflict, DomainError, InvalidState, NotFound, Unavailable
from ..lifecycle import (
    ACTIVE_JOB_STATES,
    FINISHED_JOB_STATES,
    JOB_FIELDS,
    TERMINAL_JOB_STATES,
    JobStatus,
    job_view,
)
from ..lifecycle.states import COMMAND_RESERVATIONS
from ..storage.tables.spine import jobs, print_files, printers
from ..timeutil import new_id, utcnow
from . import job_start
from .common import fetch_one
from .job_reads import JobReads
from .printer_models import models_match
from .printers import PrinterService

if TYPE_CHECKING:
    pass

_LOGGER = logging.getLogger(__name__)

JOB_STATUSES = tuple(s.value for s in JobStatus)
TERMINAL = TERMINAL_JOB_STATES
FINISHED = FINISHED_JOB_STATES
LIST_FIELDS = JOB_FIELDS
PATCHABLE = (
    "printer_id",
    "color",
    "filament_type",
    "material_type",
    "number_of_units",
    "requires_assembly",
    "quantity_per_print",
    "priority",
    "required_tags",
    "required_printer_model",
    "start_options",
)

CompletionHook = Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]


class JobService(JobReads):
    # --- queue ------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            job = await self.create_in(conn, body)
        return job

    async def create_in(self, conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
        """Enqueue inside the caller's transaction (orders use this too)."""
        file = await fetch_one(
            conn, print_files, body["print_file_id"], code="FILE_NOT_FOUND", label="File"
        )
        path = await job_start.file_path(conn, self.farm.settings.files_dir, file)
        await job_start.check_printable(path, str(file["name"]))
        required_model = body.get("required_printer_model")
        if body.get("printer_id"):
            printer = await fetch_one(
                conn, printers, body["printer_id"], code="PRINTER_NOT_FOUND", label="Printer"
            )
            if not models_match(required_model or file["printer_model_id"], printer["model"]):
                raise BadRequest(
                    "The file was sliced for another printer model", code="PRINTER_MODEL_MISMATCH"
                )
        options = job_start.normalise(body.get("start_options"))
        if options:
            await job_start.check(path, str(file["name"]), options)
        sku = await self._job_sku(conn, body.get("product_sku_id"))
        now = utcnow()
        minutes = round(file["print_time_seconds"] / 60) if file["print_time_seconds"] else None
        row = {
            "id": new_id(),
            "status": "queued",
            "printer_id": body.get("printer_id"),
            "print_file_id": file["id"],
            "product_id": sku.get("product_id") or file["product_id"],
            "product_sku_id": body.get("product_sku_id"),
            "product_name": sku.get("product_name"),
            "file_name": file["name"],
            "number_of_units": body.get("number_of_units", 1),
            "quantity_per_print": body.get("quantity_per_print", 1),
            "requires_assembly": body.get(
                "requires_assembly", bool(sku.get("requires_assembly", False))
            ),
            "color": body.get("color") or sku.get("color"),
            "filament_type": body.get("filament_type")
            or sku.get("filament_type")
            or file["filament_type"],
            "material_type": body.get("material_type"),
            "printer_model": required_model,
            "required_tags": body.get("required_tags") or None,
            "start_options": options,
            "priority": body.get("priority", 0),
            "estimated_print_time_minutes": minutes,
            "filament_weight_grams": file["filament_weight_grams"],
            "order_id": body.get("order_id"),
            "order_item_id": body.get("order_item_id"),
            "time_submitted": now,
            "created_at": now,
            "updated_at": now,
        }
        await conn.execute(insert(jobs), row)  # parameters, not .values(): cheaper to build
        view = job_view(row)
        await self.farm.events.emit(conn, "job.created", view)
        return view

    async def _job_sku(self, conn: AsyncConnection, sku_id: str | None) -> dict[str, Any]:
        """The SKU a job prints (product, colour, filament defaults); {} when none is given."""
        if not sku_id:
            return {}
        lookup = self._sku_lookup()
        found = await lookup(conn, sku_id) if lookup else None
        if found is None:
            raise NotFound("SKU not found", code="SKU_NOT_FOUND")
        return found

    async def update(self, job_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await self._row(conn, job_id, for_update=True)
            if row["status"] in TERMINAL:
                raise BadRequest(
                    f"Job is {row['status']} and cannot be changed", code="JOB_TERMINAL"
                )
            if changes.get("printer_id"):
                await fetch_one(
                    conn, printers, changes["printer_id"], code="PRINTER_NOT_FOUND", label="Printer"
                )
            if "printer_id" in changes and row["status"] not in ("queued", "failed"):
                raise Conflict(
                    "Only a queued job can move to another printer", code="INVALID_STATE"
                )
            values = {k: v for k, v in changes.items() if k in PATCHABLE}
            if "start_options" in values:
                values["start_options"] = await self._checked_options(
                    conn, row, values["start_options"]
                )
            if "required_printer_model" in values:
                values["printer_model"] = values.pop("required_printer_model")
            if values:
                await conn.execute(
                    update(jobs).where(jobs.c.id == job_id).values(**values, updated_at=utcnow())
                )
            return job_view(await self._row(conn, job_id))

    async def retry(self, job_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            moved = await self.farm.lifecycle.move_job(
                conn,
                job_id,
                JobStatus.QUEUED,
                expect=(JobStatus.FAILED,),
                values=dict.fromkeys(
                    (
                        "progress_percentage",
                        "failure_reason",
                        "time_started",
                        "time_completed",
                        "actual_print_time_minutes",
                    )
                ),
            )
            if moved is None:
                row = await self._row(conn, job_id)
                raise Conflict(
                    f"Only failed jobs can be retried (job is {row['status']})",
                    code="INVALID_STATE",
                )
        return job_view(moved)

    async def requeue_last(self, conn: AsyncConnection, printer_id: str) -> str | None:
        """Queue a fresh copy of the printer's last finished job (failed bed check)."""
        last = (
            (
                await conn.execute(
                    select(jobs)
                    .where(jobs.c.printer_id == printer_id, jobs.c.status.in_(FINISHED))
                    .order_by(jobs.c.time_completed.desc().nulls_last())
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        if last is None or last["print_file_id"] is None:
            return None
        now = utcnow()
        copy = {
            **dict(last),
            "id": new_id(),
            "status": "queued",
            "printer_id": None,
            "progress_percentage": None,
            "failure_reason": None,
            "time_started": None,
            "time_completed": None,
            "actual_print_time_minutes": None,
            "time_submitted": now,
            "created_at": now,
            "updated_at": now,
        }
        await conn.execute(insert(jobs).values(**copy))
        await self.farm.events.emit(conn, "job.created", job_view(copy))
        return str(copy["id"])

    # --- lifecycle driven by a person ------------------------------------------------
    async def complete(
        self, job_id: str, *, actual_minutes: int | None = None, failure_reason: str | None = None
    ) -> dict[str, Any]:
        """Mark completed; completion hooks (stock) run in the same transaction. A job
        that never started leaves its printer alone."""
        async with self.db.begin() as conn:
            row = await self._row(conn, job_id, for_update=True)
            if row["status"] in TERMINAL:
                raise InvalidState(
                    f"Job is already {row['status']}; only a job that has not finished (or a "
                    "failed one) can be marked completed"
                )
            now = utcnow()
            if actual_minutes is None:
                actual_minutes = _minutes_since(row["time_started"], now)
            moved = await self.farm.lifecycle.move_job(
                conn,
                job_id,
                JobStatus.COMPLETED,
                expect=(row["status"],),
                values={
                    "progress_percentage": 100.0,
                    "time_completed": now,
                    "actual_print_time_minutes": actual_minutes,
                    "failure_reason": failure_reason,
                },
            )
            if moved is None:
                raise Conflict("Job state changed concurrently", code="JOB_STATE_CHANGED")
        return job_view(moved)

    async def fail(self, job_id: str, reason: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await self._row(conn, job_id, for_update=True)
            if row["status"] in FINISHED:
                return job_view(row)
            moved = await self.farm.lifecycle.move_job(
                conn,
                job_id,
                JobStatus.FAILED,
                expect=(row["status"],),
                values=_finish_values(row, failure_reason=reason),
            )
            if moved is None:
                raise Conflict("Job state changed concurrently", code="JOB_STATE_CHANGED")
        return job_view(moved)

    # --- physical transitions -----------------------------------------------
    async def start(self, job_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            job = await self._row(conn, job_id, for_update=True)
            if job["status"] != "queued":
                raise InvalidState(f"Job is {job['status']}; only a queued job can be started")
            path, filename = await self._check_startable(conn, job)
            reserved = await self.farm.lifecycle.move_job(
                conn, job_id, JobStatus.PROCESSING, expect=(JobStatus.QUEUED,)
            )
            if reserved is None:
                raise Conflict("Job state changed concurrently", code="JOB_STATE_CHANGED")
        printer_id = job["printer_id"]
        command = PrinterCommand(
            "start",
            {
                "path": str(path),
                "filename": filename,
                "job_id": job_id,
                **job_start.command_params(job["start_options"]),
            },
        )
        try:
            await PrinterService(self.farm).send(printer_id, command)
        except DomainError:
            async with self.db.begin() as conn:
                await self.farm.lifecycle.revert_start(conn, job_id)
            raise
        return await self.mark_printing(job_id)

    async def mark_printing(self, job_id: str) -> dict[str, Any]:
        """The printer ACKed the start. When telemetry saw the print first, the job is
        already printing and no second ``job.started`` is emitted."""
        async with self.db.begin() as conn:
            now = utcnow()
            moved = await self.farm.lifecycle.move_job(
                conn,
                job_id,
                JobStatus.PRINTING,
                expect=(JobStatus.PROCESSING, JobStatus.UPLOADED),
                values={"time_started": now, "progress_percentage": 0.0},
            )
            row = moved if moved is not None else await self._row(conn, job_id)
        return job_view(row)

    async def pause(self, job_id: str, *, command_only: bool = False) -> Any:
        return await self._command(job_id, "pause", command_only)

    async def resume(self, job_id: str, *, command_only: bool = False) -> Any:
        return await self._command(job_id, "resume", command_only)

    async def stop(self, job_id: str, *, command_only: bool = False) -> Any:
        return await self._command(job_id, "stop", command_only)

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Mark cancelled now; a running print gets a fire-and-forget stop. A queued job
        never touches the printer (another job may be using it)."""
        async with self.db.begin() as conn:
            row = await self._row(conn, job_id, for_update=True)
            if row["status"] in FINISHED:
                raise InvalidState(f"Job is already {row['status']} and cannot be cancelled")
            was_running = row["status"] in ACTIVE_JOB_STATES
            moved = await self.farm.lifecycle.move_job(
                conn,
                job_id,
                JobStatus.CANCELLED,
                expect=(row["status"],),
                values={"time_completed": utcnow()},
            )
            if moved is None:
                raise Conflict("Job state changed concurrently", code="JOB_STATE_CHANGED")
        if was_running and moved["printer_id"]:
            task = asyncio.get_running_loop().create_task(self._stop_quietly(moved["printer_id"]))
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)
        return job_view(moved)

    async def _stop_quietly(self, printer_id: str) -> None:
        try:
            await PrinterService(self.farm).send(printer_id, PrinterCommand("stop"))
        except DomainError as err:
            _LOGGER.warning("stop after cancel was not delivered: %s", err.code)

    async def _command(self, job_id: str, action: str, command_only: bool) -> Any:
        """Reserve the job's next state, send the command, then announce (or revert)."""
        froms, to_state = COMMAND_RESERVATIONS[action]
        async with self.db.begin() as conn:
            job = await self._row(conn, job_id, for_update=True)
            if job["status"] not in froms:
                raise Conflict(
                    f"Cannot {action} a job that is {job['status']}", code="INVALID_STATE"
                )
            if not job["printer_id"]:
                raise BadRequest("Job has no printer", code="NO_PRINTER_ASSIGNED")
            previous = job["status"]
            reserved = await self.farm.lifecycle.move_job(
                conn, job_id, to_state, expect=(previous,), announce=False
            )
            if reserved is None:
                raise Conflict("Job state changed concurrently", code="JOB_STATE_CHANGED")
        try:
            ack = await PrinterService(self.farm).send(job["printer_id"], PrinterCommand(action))
        except DomainError:
            async with self.db.begin() as conn:
                await self.farm.lifecycle.revert_job(conn, job_id, action)
            raise
        async with self.db.begin() as conn:
            row = await self._row(conn, job_id, for_update=True)
            if row["status"] != to_state:  # telemetry or a person moved it meanwhile
                return ack if command_only else job_view(row)
            if to_state is JobStatus.CANCELLED:
                await conn.execute(
                    update(jobs).where(jobs.c.id == job_id).values(time_completed=utcnow())
                )
                row = await self._row(conn, job_id)
            if to_state is JobStatus.PAUSED:
                row = await self._pause_progress(conn, row)
            await self.farm.lifecycle.announce(conn, row, previous)
        return ack if command_only else job_view(row)

    async def _pause_progress(self, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
        """A paused job shows the progress the printer reports, not a throttled older one."""
        live = self.farm.live.get(row["printer_id"])
        if live is None or live.progress is None:
            return row
        await conn.execute(
            update(jobs).where(jobs.c.id == row["id"]).values(progress_percentage=live.progress)
        )
        return await self._row(conn, row["id"])

    async def _check_startable(
        self, conn: AsyncConnection, job: dict[str, Any]
    ) -> tuple[Path, str]:
        if not job["printer_id"]:
            raise BadRequest("Job has no printer assigned", code="NO_PRINTER_ASSIGNED")
        printer = await fetch_one(
            conn,
            printers,
            job["printer_id"],
            code="PRINTER_NOT_FOUND",
            label="Printer",
            for_update=True,
        )
        if not printer["hub_id"]:
            raise BadRequest("Printer is not connected to a hub", code="NO_HUB_ASSIGNED")
        if not job["print_file_id"]:
            raise NotFound("File not found", code="FILE_NOT_FOUND")
        file = await fetch_one(
            conn, print_files, job["print_file_id"], code="FILE_NOT_FOUND", label="File"
        )
        if not models_match(job["printer_model"] or file["printer_model_id"], printer["model"]):
            raise BadRequest(
                "The file was sliced for another printer model", code="PRINTER_MODEL_MISMATCH"
            )
        live = self.farm.live.get(printer["id"])
        live_status = live.status if live is not None and live.online else None
        await job_start.check_not_busy(conn, printer, job["id"], live_status)
        if (
            live_status not in (None, "idle", "finished", "cancelled")
            or printer["in_maintenance"]
            or printer["awaiting_bed_clear"]
            or not printer["is_active"]
            or printer["status"] == "error"
        ):
            raise BadRequest("Printer is not available", code="PRINTER_UNAVAILABLE")
        if not self.farm.control.is_online(printer["id"]):
            raise Unavailable("Printer hub is offline", code="HUB_OFFLINE")
        path = await job_start.file_path(conn, self.farm.settings.files_dir, file)
        return path, str(file["name"])

    async def _checked_options(
        self, conn: AsyncConnection, job: dict[str, Any], options: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        options = job_start.normalise(options)
        if options and options.get("plate") is not None:
            file = await fetch_one(
                conn, print_files, job["print_file_id"], code="FILE_NOT_FOUND", label="File"
            )
            path = await job_start.file_path(conn, self.farm.settings.files_dir, file)
            await job_start.check(path, str(file["name"]), options)
        return options

    async def _row(
        self, conn: AsyncConnection, job_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        return await fetch_one(
            conn, jobs, job_id, code="JOB_NOT_FOUND", label="Job", for_update=for_update
        )


_BACKGROUND: set[asyncio.Task[None]] = set()


def _minutes_since(started: datetime | None, now: datetime) -> int | None:
    if started is None:
        return None
    return max(0, round((now - started).total_seconds() / 60))


def _finish_values(row: dict[str, Any], *, failure_reason: str | None = None) -> dict[str, Any]:
    """Stamps of a job that ended (failed): when, and for how long it printed."""
    now = utcnow()
    values: dict[str, Any] = {
        "time_completed": now,
        "actual_print_time_minutes": _minutes_since(row["time_started"], now),
    }
    if failure_reason is not None:
        values["failure_reason"] = failure_reason
    return values
