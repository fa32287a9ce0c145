"""What a printer's report means for its job and its row: facts in, transitions out.

Telemetry calls :func:`apply_report` once per status change, inside one write
transaction; the job moves by :data:`FACT_RULES` and the printer row follows
:data:`ROW_STATUS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..drivers.base import Status
from ..storage.tables.spine import jobs, printers
from ..timeutil import utcnow
from .machine import Lifecycle
from .states import ACTIVE_JOB_STATES, JobStatus, PrinterStatus

J = JobStatus
#: the failure code of a start the printer acknowledged (or not) but never began
START_TIMEOUT = "START_TIMEOUT"

#: normalised driver status -> the printers.status column. A printer that finished or
#: was cancelled is idle (the part left on the bed is the separate bed-clear flag).
ROW_STATUS: dict[Status, PrinterStatus] = {
    Status.OFFLINE: PrinterStatus.OFFLINE,
    Status.IDLE: PrinterStatus.IDLE,
    Status.PREPARING: PrinterStatus.PRINTING,
    Status.PRINTING: PrinterStatus.PRINTING,
    Status.PAUSING: PrinterStatus.PRINTING,
    Status.PAUSED: PrinterStatus.PAUSED,
    Status.CANCELLING: PrinterStatus.PRINTING,
    Status.FINISHED: PrinterStatus.IDLE,
    Status.CANCELLED: PrinterStatus.IDLE,
    Status.ERROR: PrinterStatus.ERROR,
}

#: the printer reports -> (job states it applies to, the job's next state). OFFLINE keeps
#: the job (it may come back printing); PAUSING/CANCELLING are on their way.
FACT_RULES: dict[Status, tuple[tuple[JobStatus, ...], JobStatus]] = {
    Status.PREPARING: ((J.PROCESSING, J.UPLOADED, J.PAUSED), J.PRINTING),
    Status.PRINTING: ((J.PROCESSING, J.UPLOADED, J.PAUSED), J.PRINTING),
    Status.PAUSED: ((J.PRINTING,), J.PAUSED),
    Status.FINISHED: ((J.PRINTING, J.PAUSED), J.COMPLETED),
    Status.ERROR: ((J.PRINTING, J.PAUSED), J.FAILED),
    Status.CANCELLED: ((J.PRINTING, J.PAUSED), J.FAILED),
    Status.IDLE: ((J.PRINTING, J.PAUSED, J.PROCESSING, J.UPLOADED), J.FAILED),
}
#: moves the printer's own panel makes (pause/resume): mirrored only when no API
#: command is in flight and the frame is the newest one
MIRRORED = frozenset({(J.PAUSED, J.PRINTING), (J.PRINTING, J.PAUSED)})


@dataclass(slots=True)
class Report:
    """One status change a printer reported."""

    printer_id: str
    status: Status
    previous: Status | None  # None: the first frame since start-up
    error: str | None = None
    error_code: int | None = None
    progress: float | None = None
    #: pause/resume made at the printer may be mirrored onto the job
    mirror: bool = True
    #: an IDLE printer fails its printing job only after this many seconds of printing
    idle_grace_seconds: float = 15.0
    #: a start the printer never began fails after this many seconds
    start_timeout_seconds: float = 120.0
    #: False: the printer has not worked on the job since it was started (it ACKed a
    #: start and stayed idle), so an IDLE report is a start that never began
    began: bool = True
    #: a job changed this recently by an API action is not mirrored from a stale frame
    mirror_grace_seconds: float = 3.0
    #: the printer's messages (``message_dict`` form) in this report: the reasons a
    #: ``job.paused`` or ``job.failed`` it causes carries
    messages: list[dict[str, Any]] = field(default_factory=list)
    row_values: dict[str, Any] = field(default_factory=dict)


async def active_job(conn: AsyncConnection, printer_id: str) -> dict[str, Any] | None:
    row = (
        (
            await conn.execute(
                select(jobs)
                .where(jobs.c.printer_id == printer_id, jobs.c.status.in_(ACTIVE_JOB_STATES))
                .order_by(jobs.c.updated_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def apply_report(
    lifecycle: Lifecycle, conn: AsyncConnection, report: Report
) -> tuple[dict[str, Any] | None, bool]:
    """Move the printer's job and row as the report says. Returns the printer's active
    job afterwards and whether the printer row exists."""
    job = await active_job(conn, report.printer_id)
    if job is not None:
        target = job_target(job, report, utcnow())
        if target is not None:
            to, values = target
            await lifecycle.move_job(
                conn,
                job["id"],
                to,
                expect=(job["status"],),
                values=values,
                messages=report.messages,
            )
            job = await active_job(conn, report.printer_id)
    exists = await conn.scalar(select(printers.c.id).where(printers.c.id == report.printer_id))
    if exists is None:
        return job, False
    await lifecycle.set_printer(conn, report.printer_id, ROW_STATUS[report.status])
    if report.row_values:
        await lifecycle.set_printer_values(conn, report.printer_id, report.row_values)
    return job, True


def job_target(
    job: dict[str, Any], report: Report, now: datetime
) -> tuple[JobStatus, dict[str, Any]] | None:
    """The job's next state and the columns that go with it, or None to leave it."""
    rule = FACT_RULES.get(report.status)
    status = JobStatus(job["status"])
    if rule is None or status not in rule[0]:
        return None
    to = rule[1]
    if (status, to) in MIRRORED and not (report.mirror and not _recent(job, report, now)):
        return None
    if to is J.PRINTING and status in (J.PROCESSING, J.UPLOADED):
        return to, {"time_started": now, "progress_percentage": 0.0}
    if to is J.COMPLETED:
        return to, {"progress_percentage": 100.0, **_ended(job, now)}
    if to is J.PAUSED and report.progress is not None:
        return to, {"progress_percentage": report.progress}
    if to is J.FAILED:
        reason = _failure_reason(job, report, now)
        if reason is None:
            return None
        if reason.startswith(START_TIMEOUT):  # nothing printed: no bed to clear
            return to, {"failure_reason": reason, "time_completed": now, "time_started": None}
        return to, {"failure_reason": reason, **_ended(job, now)}
    return to, {}


def _failure_reason(job: dict[str, Any], report: Report, now: datetime) -> str | None:
    if report.status is Status.ERROR:
        reason = report.error or "Printer reported an error"
        return f"{reason} (code {report.error_code})" if report.error_code is not None else reason
    if report.status is Status.CANCELLED:
        return "Cancelled at the printer"
    # IDLE
    if job["status"] in (J.PROCESSING, J.UPLOADED) or not report.began:
        since = job["time_started"] or job["updated_at"]
        if _age(since, now) < report.start_timeout_seconds:
            return None
        return f"{START_TIMEOUT}: the printer never began the print"
    if _age(job["time_started"], now) < report.idle_grace_seconds:
        return None
    if report.previous in (Status.OFFLINE, None):
        return "Printer came back without the print (power loss?)"
    return "Printer stopped printing without reporting a result"


def _recent(job: dict[str, Any], report: Report, now: datetime) -> bool:
    return _age(job["updated_at"], now) < report.mirror_grace_seconds


def _age(when: datetime | None, now: datetime) -> float:
    return float("inf") if when is None else (now - when).total_seconds()


def _ended(job: dict[str, Any], now: datetime) -> dict[str, Any]:
    started = job["time_started"]
    minutes = None if started is None else max(0, round((now - started).total_seconds() / 60))
    return {"time_completed": now, "actual_print_time_minutes": minutes}
