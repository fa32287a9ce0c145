"""The dispatcher: starts queued jobs on compatible idle printers.

A pass reads a snapshot (printers, queued jobs), plans with
:func:`~apf_core.dispatch.model.plan`, **reserves the chosen printers
synchronously** (before any await), then starts each job through
:meth:`JobService.start`, which re-checks everything inside its transaction.
Passes may overlap (events, the timer, ``POST /dispatch/run``): a printer
reserved by one pass, or released after another pass took its snapshot, is
never chosen again from a stale snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Text, cast, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..aio import cancel_and_wait
from ..domain.events import Event
from ..errors import DomainError
from ..lifecycle import ACTIVE_JOB_STATES
from ..storage.tables.dispatch import dispatch_attempts
from ..storage.tables.spine import jobs, print_files, printers, server_settings
from ..timeutil import utcnow
from .model import JobInfo, PrinterInfo, Slot, eligibility, plan

if TYPE_CHECKING:
    from ..farm import Farm

_LOGGER = logging.getLogger(__name__)

SETTING_KEY = "dispatch.enabled"
#: after a failed start the printer is skipped for this long
COOLDOWN_SECONDS = 60.0
DEFAULT_INTERVAL = 10.0
HISTORY_DAYS = 30
PRUNE_EVERY_SECONDS = 3600.0
TRIGGER_EVENTS = frozenset({
    "job.created", "job.completed", "job.failed", "job.cancelled", "printer.bed_cleared",
    "printer.idle", "printer.online", "printer.updated", "printer.created", "dispatch.settings",
})  # fmt: skip
#: start failures that are the printer's fault: the printer is skipped for a while
PRINTER_FAULTS = frozenset({
    "HUB_OFFLINE", "HUB_COMMAND_FAILED", "PRINTER_UNAVAILABLE", "PRINTER_BUSY", "NO_SD_CARD",
    "DEVELOPER_MODE_REQUIRED",
})  # fmt: skip
#: failures of this job on this printer only (its filaments are not loaded there)
PAIR_FAULTS = frozenset({"AMS_MAPPING_UNSATISFIABLE"})


def _env_default() -> bool:
    return os.environ.get("APF_AUTO_DISPATCH", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    job_id: str
    printer_id: str
    outcome: str  # started | failed | skipped
    error_code: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "printer_id": self.printer_id,
            "outcome": self.outcome,
            "error_code": self.error_code,
            "message": self.message,
        }


class Dispatcher:
    def __init__(self, farm: Farm, *, interval: float = DEFAULT_INTERVAL) -> None:
        self.farm = farm
        self.interval = interval
        self.enabled = _env_default()
        self._reserved: set[str] = set()
        self._released_at: dict[str, float] = {}
        self._cooldown_until: dict[str, float] = {}
        self._job_cooldown_until: dict[str, float] = {}
        self._pair_cooldown_until: dict[tuple[str, str], float] = {}
        self._pruned_at = -PRUNE_EVERY_SECONDS
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self.passes = 0

    # --- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        async with self.farm.db.read() as conn:
            stored = await conn.scalar(
                select(server_settings.c.value).where(server_settings.c.key == SETTING_KEY)
            )
        if stored is not None:
            self.enabled = bool(stored)
        self._unsubscribe = self.farm.events.subscribe(self._on_event)
        self._task = asyncio.create_task(self._loop(), name="dispatcher")
        self.kick()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        with contextlib.suppress(Exception):  # a failed dispatch does not stop shutdown
            await cancel_and_wait(self._task, *self._inflight)

    def kick(self) -> None:
        """Ask for a pass soon (events call this)."""
        self._kick.set()

    def _on_event(self, event: Event) -> None:
        if event.type in TRIGGER_EVENTS:
            self.kick()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.interval)
            self._kick.clear()
            await asyncio.sleep(0.05)  # let a burst of events settle into one pass
            if not self.enabled:
                continue
            try:
                await self.prune()
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("dispatch pass failed")

    async def prune(self, *, force: bool = False) -> int:
        """Forget dispatch attempts older than ``HISTORY_DAYS`` (at most hourly)."""
        now = time.monotonic()
        if not force and now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return 0
        self._pruned_at = now
        cutoff = utcnow() - timedelta(days=HISTORY_DAYS)
        async with self.farm.db.begin() as conn:
            result = await conn.execute(
                delete(dispatch_attempts).where(dispatch_attempts.c.created_at < cutoff)
            )
        return int(result.rowcount or 0)

    # --- settings ---------------------------------------------------------------------
    async def set_enabled(self, enabled: bool) -> None:
        async with self.farm.db.begin() as conn:
            exists = await conn.scalar(
                select(func.count()).where(server_settings.c.key == SETTING_KEY)
            )
            if exists:
                await conn.execute(
                    update(server_settings)
                    .where(server_settings.c.key == SETTING_KEY)
                    .values(value=enabled)
                )
            else:
                await conn.execute(insert(server_settings).values(key=SETTING_KEY, value=enabled))
            await self.farm.events.emit(conn, "dispatch.settings", {"enabled": enabled})
        self.enabled = enabled

    # --- snapshot -----------------------------------------------------------------------
    async def load_printers(self) -> list[PrinterInfo]:
        now = time.monotonic()
        query = select(
            printers.c.id,
            printers.c.name,
            printers.c.model,
            printers.c.nozzle_size,
            cast(printers.c.tags, Text),
            printers.c.is_active,
            printers.c.auto_dispatch,
            printers.c.in_maintenance,
            printers.c.awaiting_bed_clear,
            printers.c.status,
            printers.c.has_ams,
            printers.c.current_filament_type,
            printers.c.current_color,
            printers.c.current_color_hex,
            printers.c.total_print_time,
        )
        async with self.farm.db.read() as conn:
            rows = (await conn.execute(query)).all()
            busy, pending = await _counts(conn)
        result: list[PrinterInfo] = []
        # row tuples unpacked, as in load_jobs: 1,000 printers per pass
        for (
            printer_id, name, model, nozzle, tags, active, auto, maintenance, bed, status,
            has_ams, filament, colour, colour_hex, printed,
        ) in rows:  # fmt: skip
            live = self.farm.live.get(printer_id)
            trays = live.trays if has_ams and live is not None else ()
            result.append(
                PrinterInfo(
                    id=printer_id,
                    name=name,
                    model=model,
                    nozzle_size=nozzle,
                    tags=_tags(tags) if tags and tags != "null" else _NO_TAGS,
                    slots=_slots(Slot(filament, colour, colour_hex), trays),
                    is_active=active,
                    auto_dispatch=auto,
                    in_maintenance=maintenance,
                    awaiting_bed_clear=bed,
                    row_status=status,
                    online=self.farm.control.is_online(printer_id),
                    live_status=live.status if live is not None and live.online else None,
                    has_active_job=bool(busy.get(printer_id)),
                    reserved=printer_id in self._reserved,
                    cooling_down=self._cooldown_until.get(printer_id, 0.0) > now,
                    load=(int(pending.get(printer_id, 0)), int(printed or 0)),
                )
            )
        return result

    async def load_jobs(self, job_id: str | None = None) -> list[JobInfo]:
        """Queued jobs in dispatch order (priority, then age, then id), sorted by the
        database: ``submitted`` is left unset and the JSON tags come as text, so a
        pass decodes no datetime and parses each distinct tag list once."""
        query = (
            select(
                jobs.c.id,
                jobs.c.priority,
                jobs.c.printer_id,
                jobs.c.printer_model,
                jobs.c.filament_type,
                jobs.c.material_type,
                jobs.c.color,
                cast(jobs.c.required_tags, Text),
                print_files.c.printer_model_id,
                print_files.c.nozzle_diameter,
            )
            .select_from(jobs.outerjoin(print_files, print_files.c.id == jobs.c.print_file_id))
            .where(jobs.c.status == "queued")
            .order_by(jobs.c.priority.desc(), jobs.c.time_submitted, self._id_order())
        )
        if job_id is not None:
            query = query.where(jobs.c.id == job_id)
        async with self.farm.db.read() as conn:
            rows = (await conn.execute(query)).all()
        avoid = self._avoided()
        # 10,000 rows per pass: unpack tuples and share the empty sets (profiled: the
        # attribute reads and one frozenset per field per row were half the snapshot)
        none = _NO_TAGS
        return [
            JobInfo(
                row_id,
                priority or 0,
                None,
                printer_id,
                model or file_model,
                nozzle,
                filament or material,
                colour,
                _tags(tags) if tags and tags != "null" else none,
                frozenset(avoid[row_id]) if row_id in avoid else none,
            )
            for (
                row_id,
                priority,
                printer_id,
                model,
                filament,
                material,
                colour,
                tags,
                file_model,
                nozzle,
            ) in rows
        ]

    def _id_order(self) -> Any:
        """Ties broken by id in code-point order, as :meth:`JobInfo.order_key` does."""
        return jobs.c.id if self.farm.db.is_sqlite else jobs.c.id.collate("C")

    def _avoided(self) -> dict[str, set[str]]:
        """Printers each job must skip for now (their start was refused a moment ago)."""
        now = time.monotonic()
        self._pair_cooldown_until = {
            pair: until for pair, until in self._pair_cooldown_until.items() if until > now
        }
        avoid: dict[str, set[str]] = {}
        for job_id, printer_id in self._pair_cooldown_until:
            avoid.setdefault(job_id, set()).add(printer_id)
        return avoid

    # --- the pass -------------------------------------------------------------------------
    async def run_pass(self) -> list[Attempt]:
        """One pass: plan, reserve, start. Returns what was attempted."""
        self.passes += 1
        snapshot_at = time.monotonic()
        printer_infos = await self.load_printers()
        if not any(not p.availability() for p in printer_infos):
            return []
        job_infos = [
            j
            for j in await self.load_jobs()
            if self._job_cooldown_until.get(j.id, 0.0) <= snapshot_at
        ]
        # --- synchronous from here until every chosen printer is reserved ---
        for info in printer_infos:
            if info.id in self._reserved or self._released_at.get(info.id, -1.0) >= snapshot_at:
                info.reserved = True
        pairs = plan(job_infos, printer_infos, ordered=True)
        for _, printer in pairs:
            self._reserved.add(printer.id)
        # --- reservations are held; now the slow part ---
        if not pairs:
            return []
        return list(await asyncio.gather(*(self._start(j, p) for j, p in pairs)))

    async def _start(self, job: JobInfo, printer: PrinterInfo) -> Attempt:
        from ..services.jobs import JobService

        try:
            assigned = await self._assign(job, printer.id)
            if not assigned:
                return await self._record(
                    Attempt(
                        job.id,
                        printer.id,
                        "skipped",
                        "JOB_STATE_CHANGED",
                        "Job changed before it could be started",
                    )
                )
            try:
                await JobService(self.farm).start(job.id)
            except DomainError as err:
                if job.printer_id is None:
                    await self._unassign(job.id, printer.id)
                until = time.monotonic() + COOLDOWN_SECONDS
                if err.code in PRINTER_FAULTS:
                    self._cooldown_until[printer.id] = until  # the printer's fault
                elif err.code in PAIR_FAULTS:  # another printer may have the filaments
                    self._pair_cooldown_until[(job.id, printer.id)] = until
                    self.kick()
                else:  # the job's (file gone, model mismatch...): skip it for a while
                    self._job_cooldown_until[job.id] = until
                _LOGGER.warning(
                    "dispatch of job %s to printer %s failed: %s %s",
                    job.id,
                    printer.name,
                    err.code,
                    err.message,
                )
                return await self._record(
                    Attempt(job.id, printer.id, "failed", err.code, err.message)
                )
            _LOGGER.info("dispatched job %s to printer %s", job.id, printer.name)
            return await self._record(Attempt(job.id, printer.id, "started"))
        finally:
            self._reserved.discard(printer.id)
            self._released_at[printer.id] = time.monotonic()

    async def _assign(self, job: JobInfo, printer_id: str) -> bool:
        async with self.farm.db.begin() as conn:
            query = update(jobs).where(jobs.c.id == job.id, jobs.c.status == "queued")
            if job.printer_id is None:
                query = query.where(jobs.c.printer_id.is_(None))
            else:
                query = query.where(jobs.c.printer_id == printer_id)
            result = await conn.execute(query.values(printer_id=printer_id, updated_at=utcnow()))
            return bool(result.rowcount)

    async def _unassign(self, job_id: str, printer_id: str) -> None:
        async with self.farm.db.begin() as conn:
            await conn.execute(
                update(jobs)
                .where(
                    jobs.c.id == job_id, jobs.c.status == "queued", jobs.c.printer_id == printer_id
                )
                .values(printer_id=None, updated_at=utcnow())
            )

    async def _record(self, attempt: Attempt) -> Attempt:
        try:
            async with self.farm.db.begin() as conn:
                await conn.execute(
                    insert(dispatch_attempts).values(
                        job_id=attempt.job_id,
                        printer_id=attempt.printer_id,
                        outcome=attempt.outcome,
                        error_code=attempt.error_code,
                        message=attempt.message,
                        created_at=utcnow(),
                    )
                )
        except Exception:  # the log is best effort; the job state is what matters
            _LOGGER.exception("could not record a dispatch attempt")
        return attempt

    # --- explainability -----------------------------------------------------------------------
    async def explain(self, job_id: str) -> dict[str, Any] | None:
        """Per-printer eligibility of a queued job; None when the job is not queued."""
        found = await self.load_jobs(job_id)
        if not found:
            return None
        job = found[0]
        printer_infos = await self.load_printers()
        entries = []
        for info in sorted(printer_infos, key=lambda p: (p.name, p.id)):
            reasons = eligibility(job, info)
            entries.append(
                {
                    "printer_id": info.id,
                    "name": info.name,
                    "eligible": not reasons,
                    "reasons": [r.as_dict() for r in reasons],
                }
            )
        return {
            "job_id": job_id,
            "auto_dispatch_enabled": self.enabled,
            "eligible_printer_count": sum(e["eligible"] for e in entries),
            "printers": entries,
        }


async def _counts(conn: AsyncConnection) -> tuple[dict[str, int], dict[str, int]]:
    """Per printer: its active jobs and its queued (assigned) jobs, in one query."""
    rows = await conn.execute(
        select(jobs.c.printer_id, jobs.c.status, func.count())
        .where(
            jobs.c.printer_id.is_not(None),
            jobs.c.status.in_((*ACTIVE_JOB_STATES, "queued")),
        )
        .group_by(jobs.c.printer_id, jobs.c.status)
    )
    busy: dict[str, int] = {}
    pending: dict[str, int] = {}
    for printer_id, status, n in rows.all():
        counts = pending if status == "queued" else busy
        counts[str(printer_id)] = counts.get(str(printer_id), 0) + int(n)
    return busy, pending


_NO_TAGS: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=4096)
def _tags(text: str) -> frozenset[str]:
    """Tags (``required_tags``, a printer's ``tags``) as JSON text: farms repeat a few
    tag lists, parsed once each."""
    tags = orjson.loads(text)
    return frozenset(str(t).lower() for t in tags) if tags else frozenset()


def _slots(loaded: Slot, live_trays: Iterable[Mapping[str, Any]]) -> tuple[Slot, ...]:
    """What a printer can print with: its loaded filament and the trays it reports."""
    slots = [loaded]
    trays = [
        Slot(t.get("filament_type"), None, t.get("color_hex"))
        for t in live_trays
        if t.get("filament_type")
    ]
    if trays and slots[0] == Slot(None, None, None):
        return tuple(trays)  # an AMS printer that reports its trays: the trays are the truth
    return tuple(slots + trays)
