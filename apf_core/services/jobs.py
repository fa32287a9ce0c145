"""Print jobs: the queue, the state machine, and physical start/pause/resume/stop.

Physical transitions reserve the new state first (a conditional UPDATE, so two
callers cannot both win), send the command, then either confirm (and emit the
event) or revert to the previous state. Completion hooks registered in
``farm.extensions["job_completion_hooks"]`` run inside the completion
transaction (stock side effects live there).
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.control import PrinterCommand
from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..storage.tables.spine import file_versions, jobs, print_files, printers
from ..timeutil import new_id, utcnow
from .common import fetch_one, fetch_page, project
from .printers import PrinterService

if TYPE_CHECKING:
    from ..farm import Farm

_LOGGER = logging.getLogger(__name__)

JOB_STATUSES = (
    "queued",
    "processing",
    "uploaded",
    "printing",
    "paused",
    "completed",
    "failed",
    "cancelled",
)
TERMINAL = ("completed", "cancelled")
FINISHED = ("completed", "failed", "cancelled")
LIST_FIELDS = (
    "id",
    "status",
    "printer_id",
    "print_file_id",
    "product_id",
    "product_sku_id",
    "product_name",
    "file_name",
    "number_of_units",
    "quantity_per_print",
    "requires_assembly",
    "color",
    "filament_type",
    "material_type",
    "required_printer_model",
    "required_tags",
    "priority",
    "progress_percentage",
    "estimated_print_time_minutes",
    "actual_print_time_minutes",
    "failure_reason",
    "order_id",
    "time_submitted",
    "time_started",
    "time_completed",
    "created_at",
    "updated_at",
)
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
)

CompletionHook = Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]
SkuLookup = Callable[[AsyncConnection, str], Awaitable[dict[str, Any] | None]]


def job_view(row: dict[str, Any]) -> dict[str, Any]:
    data = dict(row)
    data["required_printer_model"] = row.get("printer_model")
    return project(data, LIST_FIELDS)


#: Bambu Studio writes internal printer codes into 3MF files (slice_info printer_model_id)
BAMBU_MODEL_CODES = {
    "BL-P001": "X1 Carbon",
    "BL-P002": "X1",
    "C11": "P1P",
    "C12": "P1S",
    "C13": "X1E",
    "N1": "A1 mini",
    "N2S": "A1",
    "O1D": "H2D",
}
_MODEL_CODE = re.compile(r"^(BL-P\d{3}|[A-Z]\d{1,2}[A-Z]?)$")


def _model_key(model: str) -> str:
    return model.lower().replace(" ", "").replace("-", "").replace("_", "")


def models_match(required: str | None, actual: str | None) -> bool:
    """Lenient model comparison: case, spaces and dashes do not matter, Bambu codes are
    translated, and an unknown internal code never blocks a print."""
    if not required or not actual:
        return True
    if required.upper() in BAMBU_MODEL_CODES:
        required = BAMBU_MODEL_CODES[required.upper()]
    elif _MODEL_CODE.match(required):
        return True
    a, b = _model_key(required), _model_key(actual)
    return a in b or b in a


class JobService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    # --- reads ------------------------------------------------------------
    async def list(self, *, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """The queue view dashboards poll: served from memory until a job row changes."""
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
        if status:
            query = query.where(jobs.c.status == status)

        async def load() -> builtins.list[dict[str, Any]]:
            async with self.db.read() as conn:
                return [job_view(r) for r in await fetch_page(conn, query, limit, offset)]

        rows: builtins.list[dict[str, Any]] = await self.db.cached(
            ("jobs.list", status, limit, offset), ("jobs",), load
        )
        return rows

    async def history(
        self, *, start: datetime | None, end: datetime | None, limit: int, offset: int
    ) -> builtins.list[dict[str, Any]]:
        query = select(jobs).where(jobs.c.status.in_(FINISHED))
        if start is not None:
            query = query.where(jobs.c.time_completed >= start)
        if end is not None:
            query = query.where(jobs.c.time_completed <= end)
        query = query.order_by(jobs.c.time_completed.desc(), jobs.c.id.desc())
        async with self.db.read() as conn:
            return [job_view(r) for r in await fetch_page(conn, query, limit, offset)]

    async def get(self, job_id: str) -> dict[str, Any]:
        query = (
            select(jobs, printers.c.name.label("printer_name"), printers.c.model.label("pmodel"))
            .select_from(jobs.outerjoin(printers, printers.c.id == jobs.c.printer_id))
            .where(jobs.c.id == job_id)
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).mappings().first()
            if row is None:
                raise NotFound("Job not found", code="JOB_NOT_FOUND")
            data = job_view(dict(row))
            sku_name = None
            lookup = self._sku_lookup()
            if row["product_sku_id"] and lookup is not None:
                sku = await lookup(conn, row["product_sku_id"])
                sku_name = sku.get("sku") if sku else None
        data.update(
            filament_weight_grams=row["filament_weight_grams"],
            printer_name=row["printer_name"],
            printer_model=row["pmodel"],
            sku_name=sku_name,
        )
        return data

    async def stats(self) -> dict[str, Any]:
        start_of_day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        async with self.db.read() as conn:
            rows = (
                await conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
            ).all()
            today = await conn.scalar(
                select(func.count()).where(
                    jobs.c.status == "completed", jobs.c.time_completed >= start_of_day
                )
            )
            failed_today = await conn.scalar(
                select(func.count()).where(
                    jobs.c.status == "failed", jobs.c.time_completed >= start_of_day
                )
            )
        by_status = dict.fromkeys(JOB_STATUSES, 0)
        by_status.update({s: int(n) for s, n in rows})
        active = sum(by_status[s] for s in ("processing", "uploaded", "printing", "paused"))
        return {
            "total": sum(by_status.values()),
            "by_status": by_status,
            "summary": {
                "queued": by_status["queued"],
                "active": active,
                "completed": by_status["completed"],
                "failed": by_status["failed"],
                "cancelled": by_status["cancelled"],
                "completed_today": int(today or 0),
                "failed_today": int(failed_today or 0),
            },
        }

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
        required_model = body.get("required_printer_model")
        if body.get("printer_id"):
            printer = await fetch_one(
                conn, printers, body["printer_id"], code="PRINTER_NOT_FOUND", label="Printer"
            )
            if not models_match(required_model or file["printer_model_id"], printer["model"]):
                raise BadRequest(
                    "The file was sliced for another printer model", code="PRINTER_MODEL_MISMATCH"
                )
        sku: dict[str, Any] = {}
        if body.get("product_sku_id"):
            lookup = self._sku_lookup()
            found = await lookup(conn, body["product_sku_id"]) if lookup else None
            if found is None:
                raise NotFound("SKU not found", code="SKU_NOT_FOUND")
            sku = found
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
            "priority": body.get("priority", 0),
            "estimated_print_time_minutes": minutes,
            "filament_weight_grams": file["filament_weight_grams"],
            "order_id": body.get("order_id"),
            "order_item_id": body.get("order_item_id"),
            "time_submitted": now,
            "created_at": now,
            "updated_at": now,
        }
        await conn.execute(insert(jobs).values(**row))
        view = job_view(row)
        await self.farm.events.emit(conn, "job.created", view)
        return view

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
            if "required_printer_model" in values:
                values["printer_model"] = values.pop("required_printer_model")
            if values:
                await conn.execute(
                    update(jobs).where(jobs.c.id == job_id).values(**values, updated_at=utcnow())
                )
            return job_view(await self._row(conn, job_id))

    async def retry(self, job_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "failed")
                .values(
                    status="queued",
                    progress_percentage=None,
                    failure_reason=None,
                    time_started=None,
                    time_completed=None,
                    actual_print_time_minutes=None,
                    updated_at=utcnow(),
                )
            )
            row = await self._row(conn, job_id)
            if result.rowcount == 0:
                raise Conflict(
                    f"Only failed jobs can be retried (job is {row['status']})",
                    code="INVALID_STATE",
                )
            view = job_view(row)
            await self.farm.events.emit(conn, "job.created", view)
        return view

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

    # --- lifecycle driven by a person or by telemetry ---------------------------
    async def complete(
        self, job_id: str, *, actual_minutes: int | None = None, failure_reason: str | None = None
    ) -> dict[str, Any]:
        """Mark completed; stock hooks run in the same transaction."""
        async with self.db.begin() as conn:
            row = await self._row(conn, job_id, for_update=True)
            if row["status"] in TERMINAL:
                raise BadRequest(f"Job is already {row['status']}", code="JOB_TERMINAL")
            now = utcnow()
            if actual_minutes is None and row["time_started"] is not None:
                actual_minutes = max(0, round((now - row["time_started"]).total_seconds() / 60))
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status="completed",
                    progress_percentage=100.0,
                    time_completed=now,
                    actual_print_time_minutes=actual_minutes,
                    failure_reason=failure_reason,
                    updated_at=now,
                )
            )
            row = await self._row(conn, job_id)
            for hook in self.farm.extensions.get("job_completion_hooks", []):
                await hook(conn, row)
            await self._finish_printer(conn, row, actual_minutes)
            view = job_view(row)
            await self.farm.events.emit(conn, "job.completed", view)
        return view

    async def fail(self, job_id: str, reason: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await self._row(conn, job_id, for_update=True)
            if row["status"] in FINISHED:
                return job_view(row)
            now = utcnow()
            minutes = None
            if row["time_started"] is not None:
                minutes = max(0, round((now - row["time_started"]).total_seconds() / 60))
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status="failed",
                    failure_reason=reason,
                    time_completed=now,
                    actual_print_time_minutes=minutes,
                    updated_at=now,
                )
            )
            row = await self._row(conn, job_id)
            await self._finish_printer(conn, row, minutes)
            view = job_view(row)
            await self.farm.events.emit(conn, "job.failed", view)
        return view

    async def set_progress(self, job_id: str, progress: float) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "printing")
                .values(progress_percentage=progress, updated_at=utcnow())
            )

    async def _finish_printer(
        self, conn: AsyncConnection, job: dict[str, Any], minutes: int | None
    ) -> None:
        if not job["printer_id"]:
            return
        values: dict[str, Any] = {"updated_at": utcnow()}
        if job["time_started"] is not None:
            values["awaiting_bed_clear"] = True
        if minutes:
            values["total_print_time"] = printers.c.total_print_time + minutes
        await conn.execute(
            update(printers)
            .where(
                printers.c.id == job["printer_id"], printers.c.status.in_(("printing", "paused"))
            )
            .values(status="idle")
        )
        await conn.execute(
            update(printers).where(printers.c.id == job["printer_id"]).values(**values)
        )
        if values.get("awaiting_bed_clear"):
            await self.farm.events.emit(
                conn,
                "printer.bed_clear_required",
                {"printer_id": job["printer_id"], "job_id": job["id"], "status": job["status"]},
            )

    # --- physical transitions -----------------------------------------------
    async def start(self, job_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            job = await self._row(conn, job_id, for_update=True)
            if job["status"] != "queued":
                raise Conflict(f"Job is {job['status']}, not queued", code="JOB_STATE_CHANGED")
            path, filename = await self._check_startable(conn, job)
            reserved = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == "queued")
                .values(status="processing", updated_at=utcnow())
            )
            if reserved.rowcount == 0:
                raise Conflict("Job state changed concurrently", code="JOB_STATE_CHANGED")
        printer_id = job["printer_id"]
        command = PrinterCommand(
            "start", {"path": str(path), "filename": filename, "job_id": job_id}
        )
        try:
            await PrinterService(self.farm).send(printer_id, command)
        except ApiError:
            await self._revert(job_id, "processing", "queued")
            raise
        return await self.mark_printing(job_id)

    async def mark_printing(self, job_id: str) -> dict[str, Any]:
        """The printer started the job (its ACK, or telemetry)."""
        async with self.db.begin() as conn:
            now = utcnow()
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(("processing", "uploaded")))
                .values(
                    status="printing", time_started=now, progress_percentage=0.0, updated_at=now
                )
            )
            row = await self._row(conn, job_id)
            await conn.execute(
                update(printers)
                .where(printers.c.id == row["printer_id"])
                .values(status="printing", updated_at=now)
            )
            view = job_view(row)
            await self.farm.events.emit(conn, "job.started", view)
        return view

    async def mark_printing_if_starting(self, job_id: str) -> bool:
        """Telemetry saw the print begin: like :meth:`mark_printing`, but only if the
        job is still starting (no second ``job.started`` when the ACK path won)."""
        async with self.db.begin() as conn:
            now = utcnow()
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(("processing", "uploaded")))
                .values(
                    status="printing", time_started=now, progress_percentage=0.0, updated_at=now
                )
            )
            if result.rowcount == 0:
                return False
            row = await self._row(conn, job_id)
            await conn.execute(
                update(printers)
                .where(printers.c.id == row["printer_id"])
                .values(status="printing", updated_at=now)
            )
            await self.farm.events.emit(conn, "job.started", job_view(row))
        return True

    async def sync_status(self, job_id: str, from_state: str, to_state: str, event: str) -> bool:
        """Follow a change made at the printer (pause/resume on its panel)."""
        async with self.db.begin() as conn:
            now = utcnow()
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == from_state)
                .values(status=to_state, updated_at=now)
            )
            if result.rowcount == 0:
                return False
            row = await self._row(conn, job_id)
            await conn.execute(
                update(printers)
                .where(printers.c.id == row["printer_id"])
                .values(status=to_state, updated_at=now)
            )
            await self.farm.events.emit(conn, event, job_view(row))
        return True

    async def pause(self, job_id: str, *, command_only: bool = False) -> Any:
        return await self._transition(
            job_id, "pause", ("printing",), "paused", "job.paused", command_only
        )

    async def resume(self, job_id: str, *, command_only: bool = False) -> Any:
        return await self._transition(
            job_id, "resume", ("paused",), "printing", "job.resumed", command_only
        )

    async def stop(self, job_id: str, *, command_only: bool = False) -> Any:
        return await self._transition(
            job_id,
            "stop",
            ("printing", "paused", "processing"),
            "cancelled",
            "job.cancelled",
            command_only,
        )

    async def cancel(self, job_id: str) -> dict[str, Any]:
        """Mark cancelled now; a running print gets a fire-and-forget stop."""
        async with self.db.begin() as conn:
            row = await self._row(conn, job_id, for_update=True)
            if row["status"] in FINISHED:
                raise BadRequest(f"Job is already {row['status']}", code="JOB_TERMINAL")
            was_running = row["status"] in ("printing", "paused", "processing", "uploaded")
            now = utcnow()
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status="cancelled", time_completed=now, updated_at=now)
            )
            row = await self._row(conn, job_id)
            if was_running:
                await self._finish_printer(conn, row, None)
            view = job_view(row)
            await self.farm.events.emit(conn, "job.cancelled", view)
        if was_running and row["printer_id"]:
            task = asyncio.get_running_loop().create_task(self._stop_quietly(row["printer_id"]))
            _BACKGROUND.add(task)
            task.add_done_callback(_BACKGROUND.discard)
        return view

    async def _stop_quietly(self, printer_id: str) -> None:
        try:
            await PrinterService(self.farm).send(printer_id, PrinterCommand("stop"))
        except ApiError as err:
            _LOGGER.warning("stop after cancel was not delivered: %s", err.code)

    async def _transition(
        self,
        job_id: str,
        action: str,
        from_states: tuple[str, ...],
        to_state: str,
        event: str,
        command_only: bool,
    ) -> Any:
        async with self.db.begin() as conn:
            job = await self._row(conn, job_id, for_update=True)
            if job["status"] not in from_states:
                raise Conflict(
                    f"Cannot {action} a job that is {job['status']}", code="INVALID_STATE"
                )
            if not job["printer_id"]:
                raise BadRequest("Job has no printer", code="NO_PRINTER_ASSIGNED")
            previous = job["status"]
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == previous)
                .values(status=to_state, updated_at=utcnow())
            )
        try:
            ack = await PrinterService(self.farm).send(job["printer_id"], PrinterCommand(action))
        except ApiError:
            await self._revert(job_id, to_state, previous)
            raise
        async with self.db.begin() as conn:
            now = utcnow()
            printer_status = {"paused": "paused", "printing": "printing", "cancelled": "idle"}[
                to_state
            ]
            if to_state == "cancelled":
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(time_completed=now, updated_at=now)
                )
            row = await self._row(conn, job_id)
            if to_state == "cancelled":
                await self._finish_printer(conn, row, None)
            else:
                await conn.execute(
                    update(printers)
                    .where(printers.c.id == row["printer_id"])
                    .values(status=printer_status, updated_at=now)
                )
            view = job_view(row)
            await self.farm.events.emit(conn, event, view)
        return ack if command_only else view

    async def _revert(self, job_id: str, from_state: str, to_state: str) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(and_(jobs.c.id == job_id, jobs.c.status == from_state))
                .values(status=to_state, updated_at=utcnow())
            )

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
        busy = await conn.scalar(
            select(func.count()).where(
                jobs.c.printer_id == printer["id"],
                jobs.c.id != job["id"],
                jobs.c.status.in_(("processing", "uploaded", "printing", "paused")),
            )
        )
        live = self.farm.live.get(printer["id"])
        live_busy = (
            live is not None
            and live.online
            and live.status not in ("idle", "finished", "cancelled")
        )
        if (
            busy
            or printer["in_maintenance"]
            or printer["awaiting_bed_clear"]
            or not printer["is_active"]
            or printer["status"] in ("printing", "paused", "error")
            or live_busy
        ):
            raise BadRequest("Printer is not available", code="PRINTER_UNAVAILABLE")
        if not self.farm.control.is_online(printer["id"]):
            raise ApiError("Printer hub is offline", code="HUB_OFFLINE", status=503)
        storage_key = file["storage_key"]
        current = (
            await conn.execute(
                select(file_versions.c.storage_key).where(
                    file_versions.c.file_id == file["id"],
                    file_versions.c.is_current_version.is_(True),
                )
            )
        ).first()
        if current is not None:
            storage_key = current.storage_key
        return self.farm.settings.files_dir / storage_key, str(file["name"])

    def _sku_lookup(self) -> SkuLookup | None:
        lookup: SkuLookup | None = self.farm.extensions.get("sku_lookup")
        return lookup

    async def _row(
        self, conn: AsyncConnection, job_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        return await fetch_one(
            conn, jobs, job_id, code="JOB_NOT_FOUND", label="Job", for_update=for_update
        )


_BACKGROUND: set[asyncio.Task[None]] = set()
