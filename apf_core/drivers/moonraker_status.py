"""Moonraker status mapping: Klipper's printer objects (as subscribed and merged) to state fields.

Pure functions over the merged ``{object name: {field: value}}`` copy the driver keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Status

CHAMBER_OBJECTS = ("heater_generic chamber", "temperature_sensor chamber")
BASE_OBJECTS = (
    "webhooks",
    "print_stats",
    "virtual_sdcard",
    "display_status",
    "extruder",
    "heater_bed",
    "pause_resume",
    "gcode_move",
)
PRINT_STATS_STATUS = {
    "standby": Status.IDLE,
    "printing": Status.PRINTING,
    "paused": Status.PAUSED,
    "complete": Status.FINISHED,
    "cancelled": Status.CANCELLED,
    "error": Status.ERROR,
}
JOB_STATES = {"printing", "paused", "complete", "cancelled", "error"}
RESULT_STATES = ("complete", "cancelled", "error")

Objects = Mapping[str, Mapping[str, Any]]


def as_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def as_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def light_value(light: Mapping[str, Any]) -> float | None:
    """``output_pin`` has ``value``; LEDs have ``color_data`` [[r, g, b, w], ...]."""
    value = as_float(light.get("value"))
    if value is not None:
        return value
    colors = light.get("color_data")
    if isinstance(colors, list) and colors and isinstance(colors[0], list):
        return max((as_float(c) or 0.0) for c in colors[0]) if colors[0] else 0.0
    return None


def merge_objects(objects: dict[str, dict[str, Any]], changes: Mapping[str, Any]) -> None:
    """Apply a ``notify_status_update`` (partial objects) to the merged copy, in place."""
    for name, fields in changes.items():
        if isinstance(fields, Mapping):
            target = objects.setdefault(name, {})
            for key, value in fields.items():
                if isinstance(value, Mapping) and isinstance(target.get(key), dict):
                    target[key].update(value)
                else:
                    target[key] = dict(value) if isinstance(value, Mapping) else value


def klippy_status(objects: Objects, ready: bool) -> tuple[Status, str, str | None]:
    """(status, raw ``print_stats`` state or "", error) from ``webhooks`` and ``print_stats``."""
    webhooks = objects.get("webhooks", {})
    stats = objects.get("print_stats", {})
    klippy_state = webhooks.get("state", "ready" if ready else None)
    if klippy_state == "ready":
        raw = str(stats.get("state", "standby"))
        status = PRINT_STATS_STATUS.get(raw, Status.IDLE)
        error = str(stats.get("message") or "print error") if status is Status.ERROR else None
        return status, raw, error
    if klippy_state == "shutdown":
        error = str(webhooks.get("state_message") or f"klippy {klippy_state}").strip()
        return Status.ERROR, "", error
    # "error" (MCU unpowered/unplugged) or "startup"
    message = str(webhooks.get("state_message") or "").strip()
    return Status.OFFLINE, "", f"Klipper is not ready: {message}" if message else None


def readings(objects: Objects, light_object: str | None) -> dict[str, Any]:
    """Temperatures, light and speed factor as :class:`PrinterState` fields."""
    extruder = objects.get("extruder", {})
    bed = objects.get("heater_bed", {})
    chamber = next((objects[n] for n in CHAMBER_OBJECTS if n in objects), {})
    light = light_value(objects.get(light_object, {})) if light_object else None
    speed = as_float(objects.get("gcode_move", {}).get("speed_factor"))
    return {
        "speed_percent": round(speed * 100) if speed is not None else None,
        "nozzle_temp": as_float(extruder.get("temperature")),
        "nozzle_target": as_float(extruder.get("target")),
        "bed_temp": as_float(bed.get("temperature")),
        "bed_target": as_float(bed.get("target")),
        "chamber_temp": as_float(chamber.get("temperature")),
        "light_on": None if light is None else light > 0,
    }


def progress(objects: Objects) -> float | None:
    display = as_float(objects.get("display_status", {}).get("progress"))
    sdcard = as_float(objects.get("virtual_sdcard", {}).get("progress"))
    if objects.get("print_stats", {}).get("state") == "complete":
        return 100.0
    value = display if display else sdcard
    return None if value is None else round(min(max(value, 0.0), 1.0) * 100.0, 2)


def remaining_minutes(
    objects: Objects, estimate: float | None, done_percent: float | None
) -> int | None:
    """From the slicer's ``estimated_time`` when known, else extrapolated from progress."""
    stats = objects.get("print_stats", {})
    if stats.get("state") == "complete":
        return 0
    duration = as_float(stats.get("print_duration")) or 0.0
    if estimate:
        return max(0, round((estimate - duration) / 60))
    if done_percent and duration > 0:
        return max(0, round((duration / (done_percent / 100.0) - duration) / 60))
    return None


def job_fields(objects: Objects, in_job: bool, estimate: float | None) -> dict[str, Any]:
    """File, progress, layers and time left while a job is loaded (all None otherwise)."""
    if not in_job:
        return dict.fromkeys(
            ("current_file", "progress", "layer_num", "total_layers", "remaining_time_minutes")
        )
    stats = objects.get("print_stats", {})
    raw_info = stats.get("info")
    info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
    done = progress(objects)
    return {
        "current_file": str(stats.get("filename") or "") or None,
        "progress": done,
        "layer_num": as_int(info.get("current_layer")),
        "total_layers": as_int(info.get("total_layer")),
        "remaining_time_minutes": remaining_minutes(objects, estimate, done),
    }


def listed(found: Any, key: str) -> list[Mapping[str, Any]]:
    """The mappings under ``key`` in a reply such as ``{"devices": [...]}``."""
    items = found.get(key) if isinstance(found, Mapping) else None
    return [item for item in items or () if isinstance(item, Mapping)]


def has_macro(available: set[str] | frozenset[str], macro: str) -> bool:
    return f"gcode_macro {macro}" in available or f"gcode_macro {macro.lower()}" in available


def light_gcode(light_object: str, on: bool) -> str:
    """``SET_PIN`` for an ``output_pin``; ``SET_LED`` white on / all off for LEDs."""
    kind, _, name = light_object.partition(" ")
    value = 1 if on else 0
    if kind == "output_pin":
        return f"SET_PIN PIN={name} VALUE={value}"
    # led, neopixel, dotstar, pca9533...
    return f"SET_LED LED={name} RED={value} GREEN={value} BLUE={value} WHITE={value}"
