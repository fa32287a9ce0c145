"""Live printer telemetry, held in memory: the hot path for status reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class LiveStatus:
    """What the drivers last reported for one printer."""

    online: bool = False
    status: str = "offline"
    progress: float | None = None
    nozzle_temp: float | None = None
    bed_temp: float | None = None
    chamber_temp: float | None = None
    target_nozzle_temp: float | None = None
    target_bed_temp: float | None = None
    layer_num: int | None = None
    total_layers: int | None = None
    remaining_time_minutes: int | None = None
    current_file: str | None = None
    light_on: bool | None = None
    error: str | None = None
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
