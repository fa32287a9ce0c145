"""What the coordinators hold: printers with their live status and job, and stock."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from homeassistant.util import dt as dt_util

from .apf_client import Filament, InventoryItem, Job, JobStats, Printer, PrinterStatus
from .const import ACTIVE_STATES

# What a printer is doing when its current job enters a state.
JOB_TO_PRINTER_STATE = {
    "printing": "printing",
    "paused": "paused",
    "completed": "idle",
    "failed": "idle",
    "cancelled": "idle",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class PrinterData:
    """Everything known about one printer."""

    printer: Printer
    status: PrinterStatus | None = None
    job: Job | None = None
    awaiting_bed_clear: bool = False
    end_time: datetime | None = None

    @property
    def state(self) -> str:
        """Normalised state; a printer that is switched off is ``offline``."""
        if self.status is not None and self.status.hub_online is False:
            return "offline"
        raw = (self.status.status if self.status else None) or self.printer.status or "offline"
        if self.printer.in_maintenance and raw == "idle":
            return "maintenance"
        return raw.lower()

    @property
    def online(self) -> bool:
        return self.state != "offline"


@dataclass(frozen=True, slots=True, kw_only=True)
class FarmData:
    """Farm coordinator data."""

    printers: dict[str, PrinterData]
    job_stats: JobStats
    failed_today: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StockData:
    """Stock coordinator data (empty when the server has no stock endpoints)."""

    inventory: dict[str, InventoryItem] = field(default_factory=dict)
    filaments: dict[str, Filament] = field(default_factory=dict)

    @property
    def low_stock_count(self) -> int:
        return sum(1 for item in self.inventory.values() if item.is_active and item.is_low)


def build_printer_data(
    printer: Printer, status: PrinterStatus | None, job: Job | None, bed_clear_flag: bool
) -> PrinterData:
    """Combine the REST resources into one PrinterData with derived fields."""
    data = PrinterData(printer=printer, status=status, job=job)
    awaiting = bed_clear_flag if printer.awaiting_bed_clear is None else printer.awaiting_bed_clear
    if status is not None and status.bed_clear_required is not None:
        awaiting = status.bed_clear_required
    awaiting = awaiting and data.state not in ACTIVE_STATES
    end_time = None
    if (
        status is not None
        and status.remaining_time_minutes is not None
        and data.state in ACTIVE_STATES
    ):
        base = status.last_telemetry_at or dt_util.utcnow()
        end_time = (base + timedelta(minutes=status.remaining_time_minutes)).replace(
            second=0, microsecond=0
        )
    return replace(data, awaiting_bed_clear=awaiting, end_time=end_time)
