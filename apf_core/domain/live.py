"""Live printer telemetry, held in memory: the hot path for status reads."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..aio import SingleFlight


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """What the drivers last reported for one printer. Frozen: a report replaces it whole,
    so a view built from one object (see ``StatusViews``) stays true while it is current."""

    online: bool = False
    status: str = "offline"
    progress: float | None = None
    nozzle_temp: float | None = None
    bed_temp: float | None = None
    chamber_temp: float | None = None
    target_nozzle_temp: float | None = None
    target_bed_temp: float | None = None
    target_chamber_temp: float | None = None
    layer_num: int | None = None
    total_layers: int | None = None
    remaining_time_minutes: int | None = None
    current_file: str | None = None
    light_on: bool | None = None
    error: str | None = None
    #: [{code, severity, text, url}] the printer says besides its state
    messages: list[dict[str, Any]] = field(default_factory=list)
    offline_reason: str | None = None
    speed_level: str | None = None
    speed_percent: int | None = None
    trays: list[dict[str, Any]] = field(default_factory=list)
    last_telemetry_at: datetime | None = None


class LiveStore:
    """printer id -> :class:`LiveStatus`; written by drivers, read by the API."""

    def __init__(self) -> None:
        self._by_printer: dict[str, LiveStatus] = {}

    def get(self, printer_id: str) -> LiveStatus | None:
        return self._by_printer.get(printer_id)

    def set(self, printer_id: str, status: LiveStatus) -> None:
        self._by_printer[printer_id] = status

    def drop(self, printer_id: str) -> None:
        self._by_printer.pop(printer_id, None)


class PrinterRowCache:
    """Short-lived copies of the stored part of a printer's status (identity, filament, job).

    Entries expire after ``ttl`` seconds and are dropped at once when an event
    names the printer, so status reads rarely touch the database.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._rows: dict[str, tuple[float, dict[str, Any]]] = {}
        #: bumped by each invalidation (per printer, and all at once): a load that an
        #: invalidation overtook is neither kept nor shared with later readers
        self._versions: dict[str, int] = {}
        self._epoch = 0
        self._loads: SingleFlight[tuple[str, int, int], dict[str, Any]] = SingleFlight()

    def get(self, printer_id: str, now: float) -> dict[str, Any] | None:
        entry = self._rows.get(printer_id)
        if entry is None or now - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, printer_id: str, row: dict[str, Any], now: float) -> None:
        if len(self._rows) > 50_000:
            self._rows.clear()
        self._rows[printer_id] = (now, row)

    async def load(
        self, printer_id: str, fetch: Callable[[str], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """``fetch`` the row once for all concurrent readers and keep it, unless an
        invalidation came while it was being read."""
        version = (printer_id, self._epoch, self._versions.get(printer_id, 0))
        row = await self._loads.run(version, lambda: fetch(printer_id))
        if version == (printer_id, self._epoch, self._versions.get(printer_id, 0)):
            self.put(printer_id, row, time.monotonic())
        return row

    def invalidate(self, printer_id: str | None = None) -> None:
        if printer_id is None:
            self._rows.clear()
            self._epoch += 1
        else:
            self._rows.pop(printer_id, None)
            self._versions[printer_id] = self._versions.get(printer_id, 0) + 1

    def on_event(self, event: Any) -> None:
        """EventBus subscriber: any job or printer event drops that printer's entry."""
        data = event.data
        if event.type.startswith("printer."):
            self.invalidate(data.get("printer_id") or data.get("id"))
        elif event.type.startswith("job.") and not event.type.endswith("progress"):
            self.invalidate(data.get("printer_id"))
