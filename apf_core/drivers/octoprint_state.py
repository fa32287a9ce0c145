"""OctoPrint state mapping: state text and flags, job progress, temperatures, layers.

Pure functions over what OctoPrint reports (REST ``/api/job`` + ``/api/printer`` or a push
snapshot). The current layer is estimated from the file position against the layer markers
of the file we uploaded (:func:`layer_offsets`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import Status

LAYER_MARKERS = (b";LAYER_CHANGE", b";LAYER:", b"; CHANGE_LAYER")
ACTIVE = (Status.PREPARING, Status.PRINTING, Status.PAUSING, Status.PAUSED, Status.CANCELLING)


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def layer_offsets(path: Path) -> list[int]:
    """Byte offsets of the layer-change markers in a G-code file."""
    offsets: list[int] = []
    position = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.lstrip().startswith(LAYER_MARKERS):
                offsets.append(position)
            position += len(line)
    return offsets


def map_state(text: str, flags: Mapping[str, Any]) -> Status:
    """OctoPrint's state text and flags -> normalised status (printer-protocols.md §0)."""
    if text.startswith("Offline") or text in ("Opening serial connection", "Connecting"):
        return Status.OFFLINE
    if text.startswith("Detecting"):
        return Status.OFFLINE
    if flags.get("error") or text.startswith("Error"):
        return Status.ERROR
    if flags.get("cancelling"):
        return Status.CANCELLING
    if flags.get("pausing"):
        return Status.PAUSING
    if flags.get("paused"):
        return Status.PAUSED
    if text.startswith("Starting"):
        return Status.PREPARING
    if flags.get("printing") or flags.get("resuming") or flags.get("finishing"):
        return Status.PRINTING
    if flags.get("closedOrError") or not flags.get("operational", True):
        return Status.OFFLINE
    return Status.IDLE


def progress_fields(
    status: Status, progress: Mapping[str, Any], offsets: list[int] | None
) -> dict[str, Any]:
    """Progress, time left and layers for an active or finished job (from ``progress``)."""
    completion = number(progress.get("completion"))
    left = number(progress.get("printTimeLeft"))
    changes: dict[str, Any] = {
        "progress": round(completion, 1) if completion is not None else None,
        "remaining_time_minutes": math.ceil(left / 60) if left is not None else None,
    }
    if status is Status.FINISHED:
        changes["progress"], changes["remaining_time_minutes"] = 100.0, 0
    filepos = number(progress.get("filepos"))
    if not offsets:
        changes["total_layers"] = changes["layer_num"] = None
        return changes
    changes["total_layers"] = len(offsets)
    if status is Status.FINISHED:
        changes["layer_num"] = len(offsets)
    elif filepos is not None:
        changes["layer_num"] = max(1, bisect.bisect_right(offsets, filepos))
    else:
        changes["layer_num"] = None
    return changes


def temperatures(temperature: Any) -> dict[str, Any]:
    """Nozzle, bed and chamber readings as :class:`PrinterState` fields (what is reported)."""
    if not isinstance(temperature, Mapping):
        return {}
    changes: dict[str, Any] = {}
    for key, actual_field, target_field in (
        ("tool0", "nozzle_temp", "nozzle_target"),
        ("bed", "bed_temp", "bed_target"),
    ):
        reading = temperature.get(key)
        if isinstance(reading, Mapping):
            changes[actual_field] = number(reading.get("actual"))
            changes[target_field] = number(reading.get("target"))
    chamber = temperature.get("chamber")
    if isinstance(chamber, Mapping) and chamber.get("actual") is not None:
        changes["chamber_temp"] = number(chamber.get("actual"))
    return changes


def webcam_snapshot_url(settings: Any) -> str | None:
    """The snapshot URL in ``/api/settings`` (classic webcam plugin, or the old key)."""
    if not isinstance(settings, Mapping):
        return None
    plugins = settings.get("plugins") if isinstance(settings.get("plugins"), Mapping) else {}
    classic = plugins.get("classicwebcam") if isinstance(plugins, Mapping) else None
    webcam = settings.get("webcam") if isinstance(settings.get("webcam"), Mapping) else {}
    for url in (
        classic.get("snapshot") if isinstance(classic, Mapping) else None,
        webcam.get("snapshotUrl") if isinstance(webcam, Mapping) else None,
    ):
        if isinstance(url, str) and url.strip():
            return url.strip()
    return None
