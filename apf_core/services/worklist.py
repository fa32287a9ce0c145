"""Worklist tasks and their printer side effects (reference 3.11).

* Starting a ``maintenance`` task puts its printer into maintenance (refused with
  ``PRINTER_PRINTING`` while it prints); completing it releases the printer and
  stamps ``last_maintenance_date``; cancelling a started one releases it without
  stamping.
* Completing a ``filament_change`` task writes the printer's current filament
  from the task's ``metadata`` (``filament_type``, ``color``, ``color_hex``).

Every transition runs in one transaction with its side effects. ``assigned_to``
and ``metadata`` are stored but never returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import case, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import Conflict
from ..storage.tables.spine import printers
from ..storage.tables.worklist import worklist_tasks
from ..timeutil import new_id, utcnow
from .common import fetch_one, fetch_page, project
from .printers import PrinterService
from .row_schema import row_schema

if TYPE_CHECKING:
    from ..farm import Farm

TASK_TYPES = ("assembly", "filament_change", "collection", "maintenance", "quality_check")
STATUSES = ("pending", "in_progress", "completed", "cancelled")
PRIORITIES = ("low", "medium", "high")
FINISHED = ("completed", "cancelled")
FIELDS = (
    "id",
    "title",
    "subtitle",
    "description",
    "task_type",
    "priority",
    "status",
    "printer_id",
    "estimated_time_minutes",
    "actual_time_minutes",
    "started_at",
    "completed_at",
    "due_date",
    "created_at",
    "updated_at",
)
#: the schema of :func:`task_view`
TASK_SCHEMA = row_schema(
    worklist_tasks,
    FIELDS,
    {
        "task_type": vol.In(TASK_TYPES),
        "priority": vol.In(PRIORITIES),
        "status": vol.In(STATUSES),
    },
)
#: :meth:`WorklistService.stats`
STATS_SCHEMA = {
    vol.Required("total"): int,
    vol.Required("by_status"): {vol.Required(status): int for status in STATUSES},
    vol.Required("by_type"): {vol.Required(kind): int for kind in TASK_TYPES},
    vol.Required("overdue"): int,
    vol.Required("total_active"): int,
}
PATCHABLE = (
    "title",
    "subtitle",
    "description",
    "priority",
    "printer_id",
    "estimated_time_minutes",
    "due_date",
    "metadata",
)
# task metadata key -> printer column (first matching key wins)
FILAMENT_KEYS = {
    "current_filament_type": ("filament_type", "material_type", "type"),
    "current_color": ("color", "color_name"),
    "current_color_hex": ("color_hex", "hex_code", "hex"),
}
PRIORITY_RANK = case(
    (worklist_tasks.c.priority == "high", 0),
    (worklist_tasks.c.priority == "medium", 1),
    else_=2,
)


def task_view(row: dict[str, Any]) -> dict[str, Any]:
    return project(row, FIELDS)


def _minutes_between(start: datetime | None, end: datetime) -> int | None:
    if start is None:
        return None
    return max(0, round((end - start).total_seconds() / 60))


class WorklistService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    # --- reads ------------------------------------------------------------
    async def list(
        self,
        *,
        status: str | None,
        task_type: str | None,
        priority: str | None,
        printer_id: str | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        t = worklist_tasks
        query = select(t).order_by(PRIORITY_RANK, t.c.created_at.desc(), t.c.id.desc())
        for column, value in (
            ("status", status),
            ("task_type", task_type),
            ("priority", priority),
            ("printer_id", printer_id),
        ):
            if value is not None:
                query = query.where(t.c[column] == value)
        async with self.db.read() as conn:
            return [task_view(r) for r in await fetch_page(conn, query, limit, offset)]

    async def get(self, task_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            return task_view(await self._row(conn, task_id))

    async def stats(self) -> dict[str, Any]:
        t = worklist_tasks
        active = t.c.status.not_in(FINISHED)
        async with self.db.read() as conn:
            by_status_rows = (
                await conn.execute(select(t.c.status, func.count()).group_by(t.c.status))
            ).all()
            by_type_rows = (
                await conn.execute(
                    select(t.c.task_type, func.count()).where(active).group_by(t.c.task_type)
                )
            ).all()
            overdue = await conn.scalar(
                select(func.count())
                .select_from(t)
                .where(active, t.c.due_date.is_not(None), t.c.due_date < utcnow())
            )
        by_status = dict.fromkeys(STATUSES, 0) | {s: int(n) for s, n in by_status_rows}
        by_type = dict.fromkeys(TASK_TYPES, 0) | {k: int(n) for k, n in by_type_rows}
        return {
            "total": sum(by_status.values()),
            "by_status": by_status,
            "by_type": by_type,
            "overdue": int(overdue or 0),
            "total_active": by_status["pending"] + by_status["in_progress"],
        }

    # --- writes -----------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        now = utcnow()
        values = {k: v for k, v in body.items() if k != "apply_default_assignee"}
        row = {
            "priority": "medium",
            **values,
            "id": new_id(),
            "status": "pending",
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.begin() as conn:
            if row.get("printer_id"):
                await self._printer(conn, row["printer_id"])
            await conn.execute(insert(worklist_tasks).values(**row))
            return task_view(await self._row(conn, row["id"]))

    async def update(self, task_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        values = {k: v for k, v in changes.items() if k in PATCHABLE}
        async with self.db.begin() as conn:
            await self._row(conn, task_id, for_update=True)
            if values.get("printer_id"):
                await self._printer(conn, values["printer_id"])
            await self._set(conn, task_id, values)
            return task_view(await self._row(conn, task_id))

    async def assign(self, task_id: str, assignee: str | None) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await self._row(conn, task_id, for_update=True)
            await self._set(conn, task_id, {"assigned_to": assignee})
            return task_view(await self._row(conn, task_id))

    async def delete(self, task_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await self._row(conn, task_id, for_update=True)
            await conn.execute(delete(worklist_tasks).where(worklist_tasks.c.id == task_id))
        return {"id": task_id, "deleted": True}

    async def start(self, task_id: str) -> dict[str, Any]:
        """pending → in_progress (409 INVALID_STATE from any other state)."""
        async with self.db.begin() as conn:
            task = await self._row(conn, task_id, for_update=True)
            if task["status"] != "pending":
                raise Conflict(
                    f"Only a pending task can be started (task is {task['status']})",
                    code="INVALID_STATE",
                )
            await self._enter(conn, task, "in_progress")
            return task_view(await self._row(conn, task_id))

    async def complete(self, task_id: str) -> dict[str, Any]:
        """pending/in_progress → completed (409 INVALID_STATE once finished)."""
        async with self.db.begin() as conn:
            task = await self._row(conn, task_id, for_update=True)
            if task["status"] in FINISHED:
                raise Conflict(f"Task is already {task['status']}", code="INVALID_STATE")
            await self._enter(conn, task, "completed")
            return task_view(await self._row(conn, task_id))

    async def set_status(self, task_id: str, status: str) -> dict[str, Any]:
        """Any move is allowed; side effects match start/complete when they apply."""
        async with self.db.begin() as conn:
            task = await self._row(conn, task_id, for_update=True)
            if task["status"] != status:
                await self._enter(conn, task, status)
            return task_view(await self._row(conn, task_id))

    # --- transitions --------------------------------------------------------
    async def _enter(self, conn: AsyncConnection, task: dict[str, Any], status: str) -> None:
        now = utcnow()
        values: dict[str, Any] = {"status": status}
        was_active = task["status"] not in FINISHED
        if status == "in_progress":
            values["started_at"] = task["started_at"] or now
            if task["task_type"] == "maintenance" and task["printer_id"]:
                await self._maintenance(conn, task, enter=True)
        elif status in FINISHED:
            values["completed_at"] = now
            values["actual_time_minutes"] = _minutes_between(task["started_at"], now)
            if was_active and task["printer_id"]:
                await self._finish_effects(conn, task, completed=status == "completed")
        await self._set(conn, task["id"], values)

    async def _finish_effects(
        self, conn: AsyncConnection, task: dict[str, Any], *, completed: bool
    ) -> None:
        if task["task_type"] == "maintenance":
            if completed:
                await self._maintenance(conn, task, enter=False)
            elif task["status"] == "in_progress":
                await self._release_without_stamp(conn, task["printer_id"])
        elif task["task_type"] == "filament_change" and completed:
            await self._apply_filament(conn, task)

    async def _maintenance(
        self, conn: AsyncConnection, task: dict[str, Any], *, enter: bool
    ) -> None:
        printer = await self._printer(conn, task["printer_id"], for_update=True)
        service = PrinterService(self.farm)
        if enter:
            kind = (task.get("metadata") or {}).get("maintenance_type")
            label = kind if isinstance(kind, str) and kind else task["title"]
            await service.apply_maintenance(conn, printer, True, label[:120])
            await self._printer_event(conn, printer["id"])
            return
        if printer["in_maintenance"]:
            await service.apply_maintenance(conn, printer, False, None)
        else:  # completed without being started: the maintenance still happened
            now = utcnow()
            await conn.execute(
                update(printers)
                .where(printers.c.id == printer["id"])
                .values(last_maintenance_date=now, updated_at=now)
            )
        await self._printer_event(conn, printer["id"])

    async def _release_without_stamp(self, conn: AsyncConnection, printer_id: str) -> None:
        printer = await self._printer(conn, printer_id, for_update=True)
        if not printer["in_maintenance"]:
            return
        await PrinterService(self.farm).apply_maintenance(conn, printer, False, None)
        await conn.execute(
            update(printers)
            .where(printers.c.id == printer_id)
            .values(last_maintenance_date=printer["last_maintenance_date"])
        )
        await self._printer_event(conn, printer_id)

    async def _apply_filament(self, conn: AsyncConnection, task: dict[str, Any]) -> None:
        data = task.get("metadata") or {}
        values: dict[str, Any] = {}
        for column, keys in FILAMENT_KEYS.items():
            for key in keys:
                if isinstance(data.get(key), str) and data[key]:
                    values[column] = data[key]
                    break
        if not values:
            return
        await self._printer(conn, task["printer_id"], for_update=True)
        await conn.execute(
            update(printers)
            .where(printers.c.id == task["printer_id"])
            .values(**values, updated_at=utcnow())
        )
        await self._printer_event(conn, task["printer_id"])

    async def _printer_event(self, conn: AsyncConnection, printer_id: str) -> None:
        from .printers import printer_view

        row = await self._printer(conn, printer_id)
        view = printer_view(row, detail=True)
        await self.farm.events.emit(conn, "printer.updated", {**view, "connection_changed": False})

    # --- helpers ------------------------------------------------------------
    async def _set(self, conn: AsyncConnection, task_id: str, values: dict[str, Any]) -> None:
        await conn.execute(
            update(worklist_tasks)
            .where(worklist_tasks.c.id == task_id)
            .values(**values, updated_at=utcnow())
        )

    async def _row(
        self, conn: AsyncConnection, task_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        return await fetch_one(
            conn,
            worklist_tasks,
            task_id,
            code="TASK_NOT_FOUND",
            label="Task",
            for_update=for_update,
        )

    async def _printer(
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
