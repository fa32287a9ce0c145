"""The simulated machine's model: a job's phases over simulated time, heaters approaching
their targets, and the default filament trays. The driver (:mod:`.simulator`) owns the clock
and publishes what this model says."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import Status, Tray
from .simulator_estimate import JobEstimate

AMBIENT_C = 22.0
EXTERNAL_SPOOL = 254
# heating / cooling rates in degrees per simulated second
HEAT_RATE = {"nozzle": 2.5, "bed": 1.0, "chamber": 0.1}
COOL_RATE = {"nozzle": 1.0, "bed": 0.3, "chamber": 0.05}
PREPARE_SECONDS = 60.0  # homing and levelling once the heaters are at temperature
ACTIVE = (Status.PREPARING, Status.PRINTING, Status.PAUSED)


@dataclass(slots=True)
class SimJob:
    filename: str
    estimate: JobEstimate
    phase: Status = Status.PREPARING
    resume_phase: Status = Status.PRINTING
    prepared_s: float = 0.0
    elapsed_s: float = 0.0
    error: str | None = None

    def advance(self, seconds: float, heaters_ready: bool) -> bool:
        """Move the job on by ``seconds``; True when it has just finished."""
        if self.phase is Status.PREPARING:
            if not heaters_ready:
                return False
            self.prepared_s += seconds
            if self.prepared_s < PREPARE_SECONDS:
                return False
            seconds = self.prepared_s - PREPARE_SECONDS
            self.phase = Status.PRINTING
        if self.phase is Status.PRINTING:
            self.elapsed_s += seconds
            if self.elapsed_s >= self.estimate.duration_s:
                self.elapsed_s = self.estimate.duration_s
                self.phase = Status.FINISHED
                return True
        return False

    def fields(self, error_code: int | None) -> dict[str, Any]:
        """The job's :class:`PrinterState` fields: progress, layer, time left, error."""
        duration = self.estimate.duration_s
        fraction = min(self.elapsed_s / duration, 1.0)
        remaining = duration - self.elapsed_s
        total_layers = self.estimate.total_layers
        layer: int | None = None
        if total_layers is not None and self.elapsed_s > 0:
            layer = max(1, min(total_layers, math.ceil(fraction * total_layers)))
        progress = round(fraction * 100, 1)
        if self.phase is not Status.FINISHED:
            progress = min(progress, 99.9)  # 100 % means done, as printers report it
        fields: dict[str, Any] = {
            "status": self.phase,
            "current_file": self.filename,
            "progress": progress,
            "layer_num": layer,
            "total_layers": total_layers,
            "remaining_time_minutes": math.ceil(remaining / 60) if self.phase in ACTIVE else 0,
        }
        if self.phase is Status.ERROR:
            fields["error"] = self.error
            fields["error_code"] = error_code
        return fields


def approach(heater: str, value: float, goal: float, dt: float) -> float:
    """A heater's temperature after ``dt`` simulated seconds of heating or cooling."""
    if value < goal:
        return min(goal, value + HEAT_RATE[heater] * dt)
    return max(goal, value - COOL_RATE[heater] * dt)


def parse_trays(raw: Any, has_ams: bool) -> tuple[Tray, ...]:
    """The ``trays`` option, or the defaults: one external spool, or four AMS trays and one."""
    if raw is None:
        if not has_ams:
            return (Tray(EXTERNAL_SPOOL, "PLA", "FFFFFFFF", 100.0),)
        return (
            Tray(0, "PLA", "FFFFFFFF", 100.0),
            Tray(1, "PLA", "000000FF", 100.0),
            Tray(2, "PETG", "FF0000FF", 100.0),
            Tray(3, "PLA", "0000FFFF", 100.0),
            Tray(EXTERNAL_SPOOL, None, None, None),
        )
    trays: list[Tray] = []
    for item in raw:
        if isinstance(item, Tray):
            trays.append(item)
        elif isinstance(item, Mapping):
            trays.append(
                Tray(
                    tray_id=int(item["tray_id"]),
                    filament_type=item.get("filament_type"),
                    color_hex=item.get("color_hex"),
                    remaining_percent=item.get("remaining_percent"),
                )
            )
        else:
            raise ValueError(f"invalid tray: {item!r}")
    return tuple(trays)
