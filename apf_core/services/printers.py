"""Printers: registration, projections, live status, maintenance and control."""

from __future__ import annotations

import asyncio
import builtins
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.control import (
    CapabilityMissing,
    ControlError,
    HubOffline,
    PrinterCommand,
)
from ..drivers.base import EXTERNAL_TRAY_IDS, possible_tray_id
from ..errors import (
    BadRequest,
    Conflict,
    DomainError,
    NotFound,
    ServiceUnavailable,
    ValidationFailed,
)
from ..lifecycle import ACTIVE_JOB_STATES, PrinterStatus
from ..lifecycle.status import capability_names, coarse_status
from ..storage.tables.spine import jobs, printers
from ..timeutil import new_id, utcnow
from .common import fetch_one, project
from .printer_checks import check_connection, check_name_free

if TYPE_CHECKING:
    from ..farm import Farm

PROTOCOLS = ("octoprint", "moonraker", "bambu", "prusalink", "simulated")
STATUSES = tuple(s.value for s in PrinterStatus)
LIST_FIELDS = (
    "id",
    "name",
    "model",
    "manufacturer",
    "status",
    "location",
    "nozzle_size",
    "current_color",
    "current_color_hex",
    "current_filament_type",
    "current_build_plate",
    "has_ams",
    "is_active",
    "created_at",
    "updated_at",
)
DETAIL_FIELDS = (
    *LIST_FIELDS,
    "firmware_version",
    "total_print_time",
    "filament_level",
    "last_maintenance_date",
    "in_maintenance",
    "maintenance_type",
    "notes",
    "protocol",
    "hub_id",
    "auto_dispatch",
    "tags",
    "awaiting_bed_clear",
)

_LOGGER = logging.getLogger(__name__)
#: live statuses of a printer on its way to a result (a stop it has not finished)
STOPPING = frozenset({"preparing", "printing", "pausing", "paused", "cancelling"})
STOPPING_WAIT_SECONDS = 15.0
MAINTENANCE_ALLOWED_FROM = ("idle", "offline", "error", "maintenance")


def printer_view(row: dict[str, Any], *, detail: bool = False) -> dict[str, Any]:
    return project(row, DETAIL_FIELDS if detail else LIST_FIELDS)


def control_failure(err: Exception) -> DomainError:
    """The domain error for a printer command or read that failed in the control layer."""
    if isinstance(err, CapabilityMissing):
        return BadRequest(str(err), code="CAPABILITY_NOT_SUPPORTED")
    if isinstance(err, HubOffline):
        return ServiceUnavailable(str(err) or "Printer hub is offline", code="HUB_OFFLINE")
    return ServiceUnavailable(
        str(err) or "Printer did not acknowledge the command",
        code=getattr(err, "code", None) or "HUB_COMMAND_FAILED",
    )


class PrinterService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    # --- reads ------------------------------------------------------------
    async def list(
        self,
        *,
        is_active: bool | None = None,
        status: str | None = None,
        location: str | None = None,
        search: str | None = None,
    ) -> list[dict[str, Any]]:
        query = select(printers).order_by(printers.c.name, printers.c.id)
        if is_active is not None:
            query = query.where(printers.c.is_active == is_active)
        if location is not None:
            query = query.where(printers.c.location == location)
        if search:
            query = query.where(
                func.lower(printers.c.name).contains(search.lower(), autoescape=True)
            )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        views = [self._derive(printer_view(dict(r))) for r in rows]
        return [v for v in views if status is None or v["status"] == status]

    async def get(self, printer_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            view = self._derive(printer_view(await self._row(conn, printer_id), detail=True))
        view["capabilities"] = self.capabilities(printer_id)
        return view

    async def stats(self) -> dict[str, Any]:
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(printers.c.id, printers.c.status).where(printers.c.is_active.is_(True))
                )
            ).all()
        by_status = dict.fromkeys(STATUSES, 0)
        for row in rows:
            status = self._derive({"id": row.id, "status": row.status})["status"]
            by_status[status] = by_status.get(status, 0) + 1
        return {"total": sum(by_status.values()), "by_status": by_status}

    async def status(self, printer_id: str) -> dict[str, Any]:
        """Live status from memory; the stored part comes from a short-lived cache."""
        now = time.monotonic()
        stored = self.farm.printer_rows.get(printer_id, now)
        if stored is None:
            stored = await self.farm.printer_rows.load(printer_id, self._status_row)
        return self.farm.status_views.view(
            printer_id,
            stored,
            self.farm.live.get(printer_id),
            self.farm.control.is_online(printer_id),
            self._capability_set(printer_id),
        )

    def _derive(self, view: dict[str, Any]) -> dict[str, Any]:
        """List and detail say what ``/status`` says (coarsely)."""
        pid = view["id"]
        view["status"] = coarse_status(
            view["status"], self.farm.live.get(pid), self.farm.control.is_online(pid)
        )
        return view

    def capabilities(self, printer_id: str) -> builtins.list[str] | None:
        """What the connected driver declares (light, ams, ...); None when unknown."""
        return capability_names(self._capability_set(printer_id))

    def _capability_set(self, printer_id: str) -> frozenset[str] | None:
        lookup = getattr(self.farm.control, "driver", None)
        driver = lookup(printer_id) if callable(lookup) else None
        return None if driver is None else driver.capabilities

    async def _status_row(self, printer_id: str) -> dict[str, Any]:
        active = (
            select(jobs.c.id, jobs.c.time_started)
            .where(jobs.c.printer_id == printer_id, jobs.c.status.in_(ACTIVE_JOB_STATES))
            .order_by(jobs.c.updated_at.desc())
            .limit(1)
            .subquery()
        )
        query = (
            select(
                printers.c.status,
                printers.c.awaiting_bed_clear,
                active.c.id.label("current_job_id"),
                active.c.time_started.label("print_started_at"),
                printers.c.current_color,
                printers.c.current_color_hex,
                printers.c.current_filament_type,
                printers.c.last_telemetry_at,
            )
            .select_from(printers.outerjoin(active, true()))
            .where(printers.c.id == printer_id)
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound("Printer not found", code="PRINTER_NOT_FOUND")
        return dict(row)

    # --- writes -----------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        connection = body.pop("connection", None) or {}
        check_connection(body["protocol"], connection)
        now = utcnow()
        row = {
            **body,
            "id": new_id(),
            "connection": connection,
            "status": "offline",
            "hub_id": body.get("hub_id") or self.farm.embedded_hub_id,
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.begin() as conn:
            await check_name_free(conn, row["name"])
            await conn.execute(insert(printers).values(**row))
            view = printer_view(await self._row(conn, row["id"]), detail=True)
            await self.farm.events.emit(conn, "printer.created", view)
        return view

    async def update(self, printer_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            current = await self._row(conn, printer_id, for_update=True)
            if "connection" in changes:
                merged = {**(current["connection"] or {}), **(changes["connection"] or {})}
                check_connection(changes.get("protocol", current["protocol"]), merged)
                changes["connection"] = merged
            elif "protocol" in changes:
                check_connection(changes["protocol"], current["connection"] or {})
            if "name" in changes:
                await check_name_free(conn, changes["name"], except_id=printer_id)
            if changes:
                await conn.execute(
                    update(printers)
                    .where(printers.c.id == printer_id)
                    .values(**changes, updated_at=utcnow())
                )
            view = printer_view(await self._row(conn, printer_id), detail=True)
            event = {**view, "connection_changed": "connection" in changes or "protocol" in changes}
            await self.farm.events.emit(conn, "printer.updated", event)
        return view

    async def delete(self, printer_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await self._row(conn, printer_id, for_update=True)
            busy = await conn.scalar(
                select(func.count()).where(
                    jobs.c.printer_id == printer_id, jobs.c.status.in_(ACTIVE_JOB_STATES)
                )
            )
            if busy:
                raise Conflict("Printer has an active job; stop it first", code="PRINTER_PRINTING")
            await conn.execute(delete(printers).where(printers.c.id == printer_id))
            await self.farm.events.emit(conn, "printer.deleted", {"id": printer_id})
        self.farm.live.drop(printer_id)
        return {"id": printer_id, "deleted": True, "name": row["name"]}

    async def set_maintenance(
        self, printer_id: str, in_maintenance: bool, maintenance_type: str | None
    ) -> dict[str, Any]:
        async with self.db.begin() as conn:
            row = await self._row(conn, printer_id, for_update=True)
            await self.apply_maintenance(conn, row, in_maintenance, maintenance_type)
            return printer_view(await self._row(conn, printer_id), detail=True)

    async def apply_maintenance(
        self,
        conn: AsyncConnection,
        row: dict[str, Any],
        in_maintenance: bool,
        maintenance_type: str | None,
    ) -> None:
        """Enter or leave maintenance inside the caller's transaction."""
        active = await conn.scalar(
            select(func.count()).where(
                jobs.c.printer_id == row["id"], jobs.c.status.in_(ACTIVE_JOB_STATES)
            )
        )
        if in_maintenance and (row["status"] in ("printing", "paused") or active):
            raise Conflict("Printer is printing", code="PRINTER_PRINTING")
        now = utcnow()
        values: dict[str, Any] = {"in_maintenance": in_maintenance, "updated_at": now}
        status = PrinterStatus(row["status"])
        if in_maintenance:
            status = PrinterStatus.MAINTENANCE
            values["maintenance_type"] = maintenance_type
        elif row["in_maintenance"]:
            live = self.farm.live.get(row["id"])
            live_status = live.status if live and live.online else "idle"
            status = PrinterStatus(live_status) if live_status in STATUSES else PrinterStatus.IDLE
            values["last_maintenance_date"] = now
            values["maintenance_type"] = None
        await self.farm.lifecycle.set_maintenance(conn, row["id"], status, values)
        view = printer_view(await self._row(conn, row["id"]), detail=True)
        await self.farm.events.emit(conn, "printer.updated", {**view, "connection_changed": False})

    # --- physical commands --------------------------------------------------
    async def control(self, printer_id: str, action: str, result: str | None) -> dict[str, Any]:
        from .jobs import JobService  # jobs depends on printers

        async with self.db.read() as conn:
            row = await self._row(conn, printer_id)
            job_id = await conn.scalar(
                select(jobs.c.id)
                .where(
                    jobs.c.printer_id == printer_id,
                    jobs.c.status.in_(("printing", "paused", "processing")),  # stoppable
                )
                .limit(1)
            )
        if action == "clear_bed":
            return await self.clear_bed(printer_id, result or "success")
        status = self._effective_status(row)
        allowed = {"pause": ("printing",), "resume": ("paused",), "stop": ("printing", "paused")}
        if status not in allowed[action]:
            raise Conflict(f"Cannot {action} a printer that is {status}", code="INVALID_STATE")
        self.require_online(printer_id)
        job_service = JobService(self.farm)
        if job_id is not None:
            ack_id = await getattr(job_service, action)(job_id, command_only=True)
        else:
            ack_id = await self.send(printer_id, PrinterCommand(action))
        new_status = {"pause": "paused", "resume": "printing", "stop": "idle"}[action]
        return {
            "printer_id": printer_id,
            "action": action,
            "status": new_status,
            "command_id": ack_id,
        }

    async def clear_bed(self, printer_id: str, result: str) -> dict[str, Any]:
        """Record the bed-clear check; a failed check re-queues the last job."""
        from .jobs import JobService

        async with self.db.begin() as conn:
            row = await self._row(conn, printer_id, for_update=True)
            if not row["awaiting_bed_clear"]:
                raise Conflict("Printer is not waiting for a bed clear", code="INVALID_STATE")
            requeued = None
            if result == "failed":
                requeued = await JobService(self.farm).requeue_last(conn, printer_id)
            status = await self.farm.lifecycle.clear_bed(conn, printer_id)
            if status is None:
                raise Conflict("Printer is not waiting for a bed clear", code="INVALID_STATE")
            await self.farm.events.emit(
                conn,
                "printer.bed_cleared",
                {"printer_id": printer_id, "result": result, "requeued_job_id": requeued},
            )
        await self._forget_result(printer_id)
        return {
            "printer_id": printer_id,
            "action": "clear_bed",
            "status": status,
            "command_id": new_id(),
            "result": result,
            "requeued_job_id": requeued,
        }

    async def _forget_result(self, printer_id: str) -> None:
        """The bed is confirmed clear: the driver's ``clear_result`` hook forgets the last
        finished/cancelled job so the printer reads idle. Best effort: the check is already
        recorded, and a printer that is offline now reads idle when it reconnects."""
        if not self.farm.control.is_online(printer_id):
            return
        await self._until_stopped(printer_id)
        try:
            await self.send(printer_id, PrinterCommand("clear_result"))
        except DomainError as err:
            _LOGGER.info("clear_result on printer %s not delivered: %s", printer_id, err.code)

    async def _until_stopped(self, printer_id: str) -> None:
        """A bed confirmed clear right after a stop may reach a printer still cancelling:
        its result (cancelled) is not there yet to forget, so wait, boundedly, for it."""
        deadline = time.monotonic() + STOPPING_WAIT_SECONDS
        while time.monotonic() < deadline:
            live = self.farm.live.get(printer_id)
            if live is None or live.status not in STOPPING:
                return
            await asyncio.sleep(0.1)
        _LOGGER.info("printer %s still stopping after a bed clear; its result may show", printer_id)

    async def light(self, printer_id: str, on: bool) -> dict[str, Any]:
        async with self.db.read() as conn:
            await self._row(conn, printer_id)
        ack = await self.send(printer_id, PrinterCommand("light", {"on": on}))
        return {"printer_id": printer_id, "state": on, "command_id": ack}

    async def temperature(self, printer_id: str, heater: str, target: float) -> dict[str, Any]:
        async with self.db.read() as conn:
            await self._row(conn, printer_id)
        ack = await self.send(
            printer_id, PrinterCommand("temperature", {"heater": heater, "target": target})
        )
        return {"printer_id": printer_id, "heater": heater, "target": target, "command_id": ack}

    async def filament(
        self,
        printer_id: str,
        action: str,
        tray_id: int | None = None,
        temperature: float | None = None,
    ) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await self._row(conn, printer_id)
        if self._effective_status(row) in ("printing", "paused"):
            raise Conflict("Printer is printing", code="PRINTER_PRINTING")
        params: dict[str, Any] = {}
        if action == "filament_load":
            if tray_id is not None:
                self._check_tray(row, tray_id)
            params = {"tray_id": tray_id, "temperature": temperature}
        ack = await self.send(printer_id, PrinterCommand(action, params))
        data: dict[str, Any] = {"printer_id": printer_id, "command_id": ack}
        if action == "filament_load":
            data.update(tray_id=tray_id, temperature=temperature)
        return data

    def _check_tray(self, row: dict[str, Any], tray_id: int) -> None:
        """Only trays the printer reports, when it reports them; else what it may have."""
        live = self.farm.live.get(row["id"])
        reported = sorted(t["tray_id"] for t in live.trays) if live and live.online else []
        if reported and tray_id not in reported:
            raise ValidationFailed(
                f"tray_id {tray_id} is not a tray of this printer: it has trays "
                + ", ".join(str(t) for t in reported),
                code="INVALID_TRAY",
                field="tray_id",
            )
        if reported:
            return
        if not possible_tray_id(tray_id):
            raise ValidationFailed(
                "tray_id must be 0-15 (AMS), 128-135 (AMS HT) or 254/255 (external spools)",
                code="INVALID_TRAY",
                field="tray_id",
            )
        if not row["has_ams"] and tray_id not in EXTERNAL_TRAY_IDS:
            raise ValidationFailed(
                "tray_id: the printer has no AMS, only the external spools 254 and 255 can be used",
                code="INVALID_TRAY",
                field="tray_id",
            )

    def require_online(self, printer_id: str) -> None:
        if not self.farm.control.is_online(printer_id):
            raise ServiceUnavailable("Printer hub is offline", code="HUB_OFFLINE")

    async def send(self, printer_id: str, command: PrinterCommand) -> str:
        """Send one command and map control failures to API errors."""
        self.require_online(printer_id)
        try:
            ack = await self.farm.control.execute(
                printer_id, command, timeout=self.farm.settings.command_timeout_seconds
            )
        except (ControlError, TimeoutError) as err:
            raise control_failure(err) from None
        return ack.command_id

    def _effective_status(self, row: dict[str, Any]) -> str:
        if row["in_maintenance"]:
            return "maintenance"
        live = self.farm.live.get(row["id"])
        if live is not None and live.online and live.status in ("printing", "paused"):
            return live.status
        return str(row["status"])

    async def _row(
        self, conn: AsyncConnection, printer_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        return await fetch_one(
            conn,
            printers,
            printer_id,
            code="PRINTER_NOT_FOUND",
            label="Printer",
            for_update=for_update,
        )
