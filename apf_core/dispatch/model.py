"""The dispatcher's view of printers and jobs, and its hard constraints.

Everything here is pure (no I/O) so a pass over thousands of jobs is fast and
the same checks explain eligibility to users.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime

from ..services.printer_models import models_match

#: printer states in which a printer can take a new job
IDLE_LIVE_STATES = frozenset({"idle", "finished", "cancelled"})

_COLOUR_NAMES = {
    "black": "#000000", "white": "#FFFFFF", "red": "#FF0000", "green": "#00FF00",
    "blue": "#0000FF", "yellow": "#FFFF00", "orange": "#FF6600", "grey": "#808080",
    "gray": "#808080", "purple": "#800080", "pink": "#FFC0CB", "brown": "#8B4513",
    "silver": "#C0C0C0",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Slot:
    """One loaded filament: the printer's own spool or an AMS tray."""

    filament_type: str | None
    colour_name: str | None
    colour_hex: str | None


@dataclass(slots=True)
class PrinterInfo:
    id: str
    name: str
    model: str | None = None
    nozzle_size: float | None = None
    tags: frozenset[str] = frozenset()
    slots: tuple[Slot, ...] = ()
    is_active: bool = True
    auto_dispatch: bool = True
    in_maintenance: bool = False
    awaiting_bed_clear: bool = False
    row_status: str = "idle"
    online: bool = True
    live_status: str | None = None
    has_active_job: bool = False
    reserved: bool = False
    cooling_down: bool = False
    #: (pending jobs assigned to it, minutes printed): lower is less loaded
    load: tuple[int, int] = (0, 0)

    def availability(self) -> list[Reason]:
        """Why the printer cannot take any job right now (empty: it can)."""
        reasons: list[Reason] = []
        if not self.is_active:
            reasons.append(Reason("INACTIVE", "Printer is deactivated"))
        if not self.online:
            reasons.append(Reason("OFFLINE", "Printer is offline"))
        if self.in_maintenance:
            reasons.append(Reason("MAINTENANCE", "Printer is in maintenance"))
        if self.awaiting_bed_clear:
            reasons.append(Reason("AWAITING_BED_CLEAR", "Printer waits for its bed to be cleared"))
        if self.row_status == "error" or self.live_status == "error":
            reasons.append(Reason("PRINTER_ERROR", "Printer reports an error"))
        elif (
            self.has_active_job
            or (
                self.online
                and self.live_status is not None
                and self.live_status not in IDLE_LIVE_STATES
            )
            or self.row_status in ("printing", "paused")
        ):
            reasons.append(Reason("BUSY", "Printer is busy with another job"))
        if not self.auto_dispatch:
            reasons.append(Reason("AUTO_DISPATCH_OFF", "Auto-dispatch is off for this printer"))
        if self.reserved:
            reasons.append(Reason("RESERVED", "Printer is being started by the dispatcher"))
        if self.cooling_down:
            reasons.append(
                Reason("COOLDOWN", "A recent start on this printer failed; retrying later")
            )
        return reasons


@dataclass(slots=True)
class JobInfo:
    id: str
    priority: int = 0
    submitted: datetime | None = None
    printer_id: str | None = None
    model: str | None = None
    nozzle: float | None = None
    filament_type: str | None = None
    colour: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)
    #: printers that refused this job's start a moment ago (e.g. no tray for its filaments)
    avoid: frozenset[str] = field(default_factory=frozenset)

    def signature(self) -> tuple[object, ...]:
        """Jobs with the same signature have the same eligible printers."""
        return (
            self.printer_id,
            self.model,
            self.nozzle,
            self.filament_type,
            self.colour,
            self.tags,
            self.avoid,
        )

    def order_key(self) -> tuple[int, float, str]:
        """Soft score: higher priority first, then older first."""
        age = self.submitted.timestamp() if self.submitted else 0.0
        return (-self.priority, age, self.id)


def _norm(value: str | None) -> str:
    return (value or "").strip().lower()


def colour_hex(value: str | None) -> str | None:
    """A colour as ``#RRGGBB`` when it is a hex code or a well-known name."""
    text = _norm(value)
    if not text:
        return None
    if text.startswith("#") and len(text) in (7, 9):
        return text[:7].upper()
    return _COLOUR_NAMES.get(text)


def slot_matches(slot: Slot, filament_type: str | None, colour: str | None) -> bool:
    """What a slot does not declare (no material, no colour) does not block a job."""
    if filament_type and slot.filament_type and _norm(slot.filament_type) != _norm(filament_type):
        return False
    if colour and (slot.colour_name or slot.colour_hex):
        if slot.colour_name and _norm(slot.colour_name) == _norm(colour):
            return True
        wanted = colour_hex(colour)
        have = colour_hex(slot.colour_hex) or colour_hex(slot.colour_name)
        return wanted is not None and wanted == have
    return True


def job_reasons(job: JobInfo, printer: PrinterInfo) -> list[Reason]:
    """Why ``printer`` cannot print ``job`` for job-specific reasons (empty: it can)."""
    reasons: list[Reason] = []
    if job.printer_id is not None and job.printer_id != printer.id:
        reasons.append(Reason("ASSIGNED_ELSEWHERE", "Job is assigned to another printer"))
    if job.model and not models_match(job.model, printer.model):
        reasons.append(
            Reason(
                "MODEL_MISMATCH", f"Job needs printer model {job.model}, printer is {printer.model}"
            )
        )
    if (
        job.nozzle is not None
        and printer.nozzle_size is not None
        and abs(job.nozzle - printer.nozzle_size) > 0.01
    ):
        reasons.append(
            Reason(
                "NOZZLE_MISMATCH",
                f"Job needs a {job.nozzle:g} mm nozzle, printer has {printer.nozzle_size:g} mm",
            )
        )
    if (job.filament_type or job.colour) and not any(
        slot_matches(s, job.filament_type, job.colour) for s in printer.slots
    ):
        wanted = " ".join(x for x in (job.colour, job.filament_type) if x)
        loaded = (
            ", ".join(
                " ".join(x for x in (s.colour_name or s.colour_hex, s.filament_type) if x)
                or "empty"
                for s in printer.slots
            )
            or "nothing"
        )
        code = (
            "MATERIAL_MISMATCH"
            if job.filament_type
            and not any(slot_matches(s, job.filament_type, None) for s in printer.slots)
            else "COLOR_MISMATCH"
        )
        reasons.append(Reason(code, f"Job needs {wanted}; loaded: {loaded}"))
    if printer.id in job.avoid:
        reasons.append(
            Reason(
                "START_REFUSED",
                "The printer refused this job's start a moment ago (its loaded filament "
                "cannot supply the job's); retrying later",
            )
        )
    missing = sorted(job.tags - printer.tags)
    if missing:
        reasons.append(Reason("MISSING_TAGS", f"Printer lacks required tags: {', '.join(missing)}"))
    return reasons


def eligibility(job: JobInfo, printer: PrinterInfo) -> list[Reason]:
    return printer.availability() + job_reasons(job, printer)


_NONE: frozenset[str] = frozenset()


class _Index:
    """Free printers indexed by what jobs ask for, so one job signature costs a few
    set operations instead of a scan (same rules as :func:`job_reasons`)."""

    def __init__(self, free: list[PrinterInfo]) -> None:
        self.all = frozenset(p.id for p in free)
        self.by_model: dict[str | None, set[str]] = {}
        self.by_nozzle: dict[float | None, set[str]] = {}
        self.by_tag: dict[str, set[str]] = {}
        self.by_slot: dict[Slot, set[str]] = {}
        for p in free:
            self.by_model.setdefault(p.model, set()).add(p.id)
            self.by_nozzle.setdefault(p.nozzle_size, set()).add(p.id)
            for tag in p.tags:
                self.by_tag.setdefault(tag, set()).add(p.id)
            for slot in p.slots:
                self.by_slot.setdefault(slot, set()).add(p.id)
        self._cache: dict[tuple[str, object], frozenset[str]] = {}

    def _cached(self, key: tuple[str, object], build: Callable[[], set[str]]) -> frozenset[str]:
        found = self._cache.get(key)
        if found is None:
            found = frozenset(build())
            self._cache[key] = found
        return found

    def eligible(self, job: JobInfo) -> set[str]:
        # each constraint is a set of printers; intersecting from the smallest keeps
        # every step as cheap as the narrowest constraint (a few printers, not all)
        required: list[AbstractSet[str]] = [self.all]
        if job.printer_id is not None:
            required.append({job.printer_id})
        if job.model:
            model = job.model
            required.append(
                self._cached(
                    ("model", model),
                    lambda: set().union(
                        *(v for k, v in self.by_model.items() if models_match(model, k))
                    ),
                )
            )
        if job.nozzle is not None:
            nozzle = job.nozzle
            required.append(
                self._cached(
                    ("nozzle", nozzle),
                    lambda: set().union(
                        *(
                            v
                            for k, v in self.by_nozzle.items()
                            if k is None or abs(k - nozzle) <= 0.01
                        )
                    ),
                )
            )
        if job.filament_type or job.colour:
            wanted = (job.filament_type, job.colour)
            required.append(
                self._cached(
                    ("slot", wanted),
                    lambda: set().union(
                        *(v for k, v in self.by_slot.items() if slot_matches(k, *wanted))
                    ),
                )
            )
        required.extend(self.by_tag.get(tag, _NONE) for tag in job.tags)
        required.sort(key=len)
        return set(required[0]).intersection(*required[1:]) - job.avoid


def plan(
    jobs: list[JobInfo], printers: list[PrinterInfo], *, ordered: bool = False
) -> list[tuple[JobInfo, PrinterInfo]]:
    """Match queued jobs to free printers.

    Jobs go in soft-score order (priority, then age; ``ordered``: ``jobs`` already
    are in that order, as :meth:`JobInfo.order_key` sorts them); each takes the least
    loaded eligible free printer. Eligible printers are computed once per job
    signature from an index of the free printers.
    """
    free = sorted(
        (p for p in printers if not p.availability()), key=lambda p: (p.load, p.name, p.id)
    )
    if not free:
        return []
    index = _Index(free)
    rank = {p.id: i for i, p in enumerate(free)}
    taken: set[str] = set()
    candidates: dict[tuple[object, ...], list[PrinterInfo]] = {}
    cursor: dict[tuple[object, ...], int] = {}
    result: list[tuple[JobInfo, PrinterInfo]] = []
    for job in jobs if ordered else sorted(jobs, key=JobInfo.order_key):
        if len(taken) == len(free):
            break
        sig = job.signature()
        options = candidates.get(sig)
        if options is None:
            options = [free[rank[i]] for i in sorted(index.eligible(job), key=rank.__getitem__)]
            candidates[sig] = options
            cursor[sig] = 0
        position = cursor[sig]
        while position < len(options) and options[position].id in taken:
            position += 1
        cursor[sig] = position
        if position < len(options):
            printer = options[position]
            taken.add(printer.id)
            result.append((job, printer))
    return result
