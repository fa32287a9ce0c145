"""What the simulated printer reads from a print file before printing it: the slicer's time
estimate, the layer count and the first nozzle and bed temperatures (:func:`estimate_job`)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .base import DriverError

MAX_TARGET = {"nozzle": 300.0, "bed": 120.0, "chamber": 65.0}
_SECONDS_PER_LINE = 0.1  # duration estimate for files without a slicer estimate
_MIN_PRINT_SECONDS = 30.0
_DEFAULT_NOZZLE = 210.0
_DEFAULT_BED = 60.0


@dataclass(frozen=True, slots=True)
class JobEstimate:
    """What the simulator learns from a file before printing it."""

    duration_s: float
    total_layers: int | None
    nozzle_target: float
    bed_target: float


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_TIME_PATTERNS = (
    re.compile(r";\s*estimated printing time \(normal mode\)\s*=\s*(.+)"),
    re.compile(r";\s*total estimated time:\s*([^;]+)"),
)
_SECONDS_PATTERNS = (re.compile(r";\s*TIME:\s*(\d+(?:\.\d+)?)"), re.compile(r";PRINT\.TIME:(\d+)"))
_LAYER_TOTAL_PATTERNS = (
    re.compile(r";\s*total layer number:\s*(\d+)"),
    re.compile(r";LAYER_COUNT:\s*(\d+)"),
    re.compile(r";\s*total layers count\s*=\s*(\d+)"),
)
_LAYER_MARKERS = (";LAYER_CHANGE", ";LAYER:", "; CHANGE_LAYER")
_TEMP_COMMAND = re.compile(r"^(M10[49]|M1[49]0)\b[^;]*?\bS(\d+(?:\.\d+)?)", re.IGNORECASE)


def parse_duration(text: str) -> float | None:
    """``1d 2h 3m 4s`` -> seconds; None when nothing matches."""
    factors = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = _DURATION_PART.findall(text)
    if not parts:
        return None
    return sum(float(value) * factors[unit] for value, unit in parts)


def _gcode_lines(path: Path) -> Iterator[str]:
    """Lines of a G-code file, or of the first plate inside a ``.gcode.3mf``."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = sorted(n for n in archive.namelist() if n.endswith(".gcode"))
            if not members:
                raise DriverError("the 3MF project contains no G-code")
            with archive.open(members[0]) as handle:
                for raw in handle:
                    yield raw.decode("utf-8", errors="replace")
        return
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        yield from handle


def estimate_job(path: Path) -> JobEstimate:
    """Read the whole file once: slicer estimate, layer count and first temperatures."""
    duration: float | None = None
    layers_declared: int | None = None
    layer_markers = 0
    line_count = 0
    nozzle: float | None = None
    bed: float | None = None
    for raw in _gcode_lines(path):
        line = raw.strip()
        if not line:
            continue
        line_count += 1
        if line.startswith(";"):
            if line.startswith(_LAYER_MARKERS):
                layer_markers += 1
                continue
            if duration is None:
                duration = _match_duration(line)
            if layers_declared is None:
                layers_declared = _match_int(_LAYER_TOTAL_PATTERNS, line)
            continue
        if nozzle is None or bed is None:
            match = _TEMP_COMMAND.match(line)
            if match and float(match.group(2)) > 0:
                value = float(match.group(2))
                if match.group(1).upper() in ("M104", "M109"):
                    nozzle = nozzle if nozzle is not None else value
                else:
                    bed = bed if bed is not None else value
    if duration is None:
        duration = line_count * _SECONDS_PER_LINE
    layers = layers_declared or layer_markers or None
    return JobEstimate(
        duration_s=max(duration, _MIN_PRINT_SECONDS),
        total_layers=layers,
        nozzle_target=min(nozzle or _DEFAULT_NOZZLE, MAX_TARGET["nozzle"]),
        bed_target=min(bed or _DEFAULT_BED, MAX_TARGET["bed"]),
    )


def _match_duration(line: str) -> float | None:
    for pattern in _TIME_PATTERNS:
        match = pattern.search(line)
        if match:
            return parse_duration(match.group(1))
    for pattern in _SECONDS_PATTERNS:
        match = pattern.match(line)
        if match:
            return float(match.group(1))
    return None


def _match_int(patterns: Iterable[re.Pattern[str]], line: str) -> int | None:
    for pattern in patterns:
        match = pattern.match(line)
        if match:
            return int(match.group(1))
    return None
