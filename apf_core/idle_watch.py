"""Jobs whose printer sits idle: a start the printer acknowledged but never began.

Telemetry moves a job only when the printer's status *changes*. A printer that ACKs a
start and stays idle (a firmware that drops the command, a file it silently refuses)
changes nothing, so the job would read ``printing`` for good and hold the printer.
:class:`IdleWatch` looks every few seconds at the printers reporting IDLE and hands
their jobs to the lifecycle as an IDLE fact: after ``start_timeout_seconds`` a start
that never began fails with ``START_TIMEOUT`` and frees the printer (no bed to clear);
a print that began and went idle without a result fails after the idle grace.

The same look mends a pause or resume made at the printer that telemetry passed over:
a frame within the mirror grace of an API action is not mirrored (it may be stale), and
no later frame changes the status, so a runout right after a start would leave the job
``printing`` on a paused printer. A printer that still says PAUSED while its job says
``printing`` (or the reverse) once :data:`SETTLED_SECONDS` have passed since the job
last changed gets its job moved, through the same facts and compare-and-set.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, or_, select

from . import telemetry
from .drivers.base import Status
from .lifecycle.facts import Report, apply_report, job_target
from .lifecycle.states import JobStatus
from .storage.tables.spine import jobs
from .timeutil import utcnow

if TYPE_CHECKING:
    from .farm import Farm

_LOGGER = logging.getLogger(__name__)

#: jobs the watch looks at; PROCESSING is a start still in flight (its command's own
#: timeout reverts it), so it is left alone
WATCHED_JOB_STATES = (JobStatus.UPLOADED, JobStatus.PRINTING, JobStatus.PAUSED)
#: a printer's status -> the job status that contradicts it (a missed pause or resume)
CONTRADICTS = {Status.PAUSED: JobStatus.PRINTING, Status.PRINTING: JobStatus.PAUSED}
#: how long a job must have kept its status before a contradicting printer moves it: well
#: past the mirror grace, so a printer slow to carry out an API pause is not overruled
SETTLED_SECONDS = 10.0


class IdleWatch:
    """Fails the jobs of printers that stay idle (see the module docstring)."""

    def __init__(self, farm: Farm, bridge: telemetry.TelemetryBridge) -> None:
        self.farm = farm
        self.bridge = bridge

    def interval(self) -> float:
        """How often to look: a quarter of the start timeout, between 0.2 and 5 s."""
        return max(0.2, min(5.0, self.farm.settings.start_timeout_seconds / 4))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval())
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("idle printer watch failed; retrying")

    async def sweep(self) -> int:
        """Look once; returns how many jobs were handed to the lifecycle."""
        return await self._idle_sweep() + await self._contradiction_sweep()

    async def _idle_sweep(self) -> int:
        idle = {p.printer_id: p for p in self.bridge.idle_printers()}
        idle = {pid: p for pid, p in idle.items() if not self._command_in_flight(pid)}
        if not idle:
            return 0
        rows = await self._jobs_where(
            and_(jobs.c.status.in_(WATCHED_JOB_STATES), jobs.c.printer_id.in_(list(idle)))
        )
        moved = 0
        now = utcnow()
        for job in rows:
            printer = idle[job["printer_id"]]
            report = self._report(job, printer.printer_id, printer.worked_at)
            idle_for = (now - printer.idle_since).total_seconds()
            if report.began and idle_for < report.idle_grace_seconds:
                continue  # a print that just went idle: its result frame may follow
            if job_target(job, report, now) is None:
                continue
            async with self.farm.db.begin() as conn:  # compare-and-set: a racing frame wins
                await apply_report(self.farm.lifecycle, conn, report)
            moved += 1
        return moved

    async def _contradiction_sweep(self) -> int:
        frames = {
            pid: frame
            for pid, frame in self.bridge.newest_frames(tuple(CONTRADICTS)).items()
            if not self._command_in_flight(pid)
        }
        if not frames:
            return 0
        # only the jobs that contradict their printer: a farm of printing printers reads nothing
        contradicting = or_(
            *(
                and_(
                    jobs.c.status == job_status,
                    jobs.c.printer_id.in_([p for p, f in frames.items() if f.status is status]),
                )
                for status, job_status in CONTRADICTS.items()
            )
        )
        moved = 0
        now = utcnow()
        for job in await self._jobs_where(contradicting):
            frame = frames[job["printer_id"]]
            report = Report(
                job["printer_id"],
                frame.status,
                frame.status,
                progress=frame.progress,
                mirror_grace_seconds=SETTLED_SECONDS,
                messages=[telemetry.message_dict(m) for m in frame.messages],
            )
            if job_target(job, report, now) is None:
                continue  # changed too recently: the printer may still be carrying it out
            async with self.farm.db.begin() as conn:  # compare-and-set: a racing frame wins
                await apply_report(self.farm.lifecycle, conn, report)
            moved += 1
        return moved

    async def _jobs_where(self, condition: ColumnElement[bool]) -> list[dict[str, Any]]:
        async with self.farm.db.read() as conn:
            result = await conn.execute(select(jobs).where(condition))
            return [dict(row) for row in result.mappings()]

    def _report(self, job: dict[str, Any], printer_id: str, worked_at: datetime | None) -> Report:
        since = job["time_started"] or job["updated_at"]
        began = worked_at is not None and since is not None and worked_at >= since
        return Report(
            printer_id,
            Status.IDLE,
            Status.IDLE,
            idle_grace_seconds=telemetry.IDLE_GRACE_SECONDS,
            start_timeout_seconds=self.farm.settings.start_timeout_seconds,
            began=began or job["status"] == JobStatus.PAUSED,
        )

    def _command_in_flight(self, printer_id: str) -> bool:
        in_flight = getattr(self.farm.control, "command_in_flight", None)
        return bool(in_flight(printer_id)) if callable(in_flight) else False
