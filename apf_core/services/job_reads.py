"""The read side of print jobs: the queue list, history, one job, counts."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import NotFound
from ..lifecycle import ACTIVE_JOB_STATES, FINISHED_JOB_STATES, JobStatus, job_view
from ..storage.tables.spine import jobs, printers
from ..timeutil import utcnow
from .common import fetch_page
from .printer_models import models_match

if TYPE_CHECKING:
    from ..farm import Farm

SkuLookup = Callable[[AsyncConnection, str], Awaitable[dict[str, Any] | None]]
JOB_STATUSES = tuple(s.value for s in JobStatus)
FINISHED = FINISHED_JOB_STATES
#: the answer of :meth:`JobReads.stats`
JOB_STATS = {
    vol.Required("total"): int,
    vol.Required("by_status"): {vol.Required(status): int for status in JOB_STATUSES},
    vol.Required("summary"): {
        vol.Required(name): int
        for name in (
            "queued",
            "active",
            "completed",
            "failed",
            "cancelled",
            "completed_today",
            "failed_today",
        )
    },
}


class JobReads:
    """Queries over jobs; :class:`apf_core.services.jobs.JobService` adds the commands."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    # --- reads ------------------------------------------------------------
    async def list(self, *, status: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """The queue view dashboards poll: served from memory until a job row changes
        (the same list object each time, which ``RenderedBodies`` relies on)."""

        async def load() -> builtins.list[dict[str, Any]]:
            query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
            if status:
                query = query.where(jobs.c.status == status)
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
        active = sum(by_status[s] for s in ACTIVE_JOB_STATES)
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

    def _sku_lookup(self) -> SkuLookup | None:
        return self.farm.sku_lookup

    async def model_warnings(self, required_model: str | None) -> builtins.list[dict[str, Any]]:
        """A warning when no registered printer is of ``required_model``: the job is
        accepted (a printer of that model may be added later) but cannot dispatch yet;
        ``GET /jobs/{id}/eligibility`` shows ``MODEL_MISMATCH`` on every printer."""
        if not required_model:
            return []
        async with self.db.read() as conn:
            models = (await conn.scalars(select(printers.c.model).distinct())).all()
        if any(models_match(required_model, m) for m in models):
            return []
        known = ", ".join(sorted({m for m in models if m})) or "none"
        return [
            {
                "code": "UNKNOWN_PRINTER_MODEL",
                "field": "required_printer_model",
                "message": f"required_printer_model: no printer of model '{required_model}' is "
                f"registered (models in the farm: {known}); the job waits until one is added",
            }
        ]
