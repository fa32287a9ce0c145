"""Jobs beyond the state machine: deleting a queued job, exporting the history as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, or_, select

from ..errors import Conflict
from ..lifecycle import JOB_FIELDS, JobStatus, job_view
from ..storage.tables.spine import jobs
from .common import fetch_one

if TYPE_CHECKING:
    from ..farm import Farm

#: rows read per query while exporting (memory stays bounded whatever the history)
EXPORT_BATCH = 500
#: a cell starting with one of these is prefixed with ' so spreadsheets do not run it
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class JobAdmin:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    async def delete_queued(self, job_id: str) -> dict[str, Any]:
        """Remove a job that never left the queue (a compare-and-delete on ``queued``)."""
        async with self.db.begin() as conn:
            row = await fetch_one(
                conn, jobs, job_id, code="JOB_NOT_FOUND", label="Job", for_update=True
            )
            result = await conn.execute(
                delete(jobs).where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
            )
            if result.rowcount != 1:
                raise Conflict(
                    f"Only queued jobs can be deleted; this job is {row['status']}"
                    " (cancel it instead to keep its history)",
                    code="INVALID_STATE",
                    extra={"status": row["status"]},
                )
            view = job_view(row)
            await self.farm.events.emit(conn, "job.deleted", view)
        return {"id": job_id, "deleted": True}

    async def export_csv(
        self, *, status: str | None, start: datetime | None, end: datetime | None
    ) -> AsyncIterator[bytes]:
        """The jobs matching the filters, newest first, as CSV chunks (header first)."""
        yield _csv_line(JOB_FIELDS)
        last: tuple[Any, str] | None = None
        while True:
            query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
            if status:
                query = query.where(jobs.c.status == status)
            if start is not None:
                query = query.where(jobs.c.created_at >= start)
            if end is not None:
                query = query.where(jobs.c.created_at <= end)
            if last is not None:
                query = query.where(
                    or_(
                        jobs.c.created_at < last[0],
                        and_(jobs.c.created_at == last[0], jobs.c.id < last[1]),
                    )
                )
            async with self.db.read() as conn:
                rows = [dict(r) for r in (await conn.execute(query.limit(EXPORT_BATCH))).mappings()]
            if not rows:
                return
            out = io.StringIO()
            writer = csv.writer(out)
            for row in rows:
                view = job_view(row)
                writer.writerow([_cell(view[name]) for name in JOB_FIELDS])
            yield out.getvalue().encode()
            last = (rows[-1]["created_at"], rows[-1]["id"])
            if len(rows) < EXPORT_BATCH:
                return


def _csv_line(values: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue().encode()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
