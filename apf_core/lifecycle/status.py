"""The printer status model, defined once.

``GET /printers/{id}/status``, the ``printer.status`` event, the list and detail
``status`` and the OpenAPI schema all come from here. The coarse status (the
printers-list vocabulary) is derived from the fine one (the driver's), so the views
always agree: a printer whose driver says ``finished`` is ``idle`` in the list,
and the part on its bed is the separate ``bed_clear_required`` flag.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from ..domain.live import LiveStatus
from ..drivers.base import MESSAGE_SEVERITIES, SPEED_LEVELS, Status
from ..timeutil import iso
from .facts import ROW_STATUS
from .states import PrinterStatus

_NUM = vol.Any(None, float, int)
_INT = vol.Any(None, int)
_TEXT = vol.Any(None, str)

MESSAGE_SCHEMA = vol.Schema(
    {
        vol.Required("code"): str,
        vol.Required("severity"): vol.In(MESSAGE_SEVERITIES),
        vol.Required("text"): str,
        vol.Required("url"): _TEXT,
    }
)
TRAY_SCHEMA = vol.Schema(
    {
        vol.Required("tray_id"): int,
        vol.Required("unit"): _INT,
        vol.Required("slot"): _INT,
        vol.Required("filament_type"): _TEXT,
        vol.Required("color_hex"): _TEXT,
        vol.Required("remaining_percent"): _NUM,
        vol.Required("active"): bool,
    }
)

#: what the printer reports, null while it is unreachable: name -> (LiveStatus attribute, schema)
LIVE_FIELDS: dict[str, tuple[str, Any]] = {
    "progress": ("progress", _NUM),
    "nozzle_temp": ("nozzle_temp", _NUM),
    "bed_temp": ("bed_temp", _NUM),
    "chamber_temp": ("chamber_temp", _NUM),
    "target_nozzle_temp": ("target_nozzle_temp", _NUM),
    "target_bed_temp": ("target_bed_temp", _NUM),
    "target_chamber_temp": ("target_chamber_temp", _NUM),
    "layer_num": ("layer_num", _INT),
    "total_layers": ("total_layers", _INT),
    "remaining_time_minutes": ("remaining_time_minutes", _INT),
    "light_on": ("light_on", vol.Any(None, bool)),
    "error": ("error", _TEXT),
    "speed_level": ("speed_level", vol.Any(None, vol.In(tuple(SPEED_LEVELS)))),
    "speed_percent": ("speed_percent", _INT),
}

#: the whole ``/printers/{id}/status`` object; the OpenAPI schema is generated from it
STATUS_SCHEMA = vol.Schema(
    {
        vol.Required("printer_id"): str,
        vol.Required("hub_online"): bool,
        vol.Required("status"): vol.In(
            [s.value for s in Status] + [PrinterStatus.MAINTENANCE.value]
        ),
        **{vol.Required(name): schema for name, (_, schema) in LIVE_FIELDS.items()},
        vol.Required("current_job_id"): _TEXT,
        vol.Required("print_started_at"): _TEXT,
        vol.Required("current_color"): _TEXT,
        vol.Required("current_color_hex"): _TEXT,
        vol.Required("current_filament_type"): _TEXT,
        vol.Required("last_telemetry_at"): _TEXT,
        vol.Required("bed_clear_required"): bool,
        vol.Required("offline_reason"): _TEXT,
        vol.Required("messages"): [MESSAGE_SCHEMA],
        vol.Required("trays"): [TRAY_SCHEMA],
        vol.Required("capabilities"): vol.Any(None, [str]),
    }
)


def status_event(printer_id: str, live: LiveStatus) -> dict[str, Any]:
    """The ``printer.status`` event: what the printer reports now, its messages and trays,
    and why it is offline (``offline_reason``, null while online)."""
    data: dict[str, Any] = {"printer_id": printer_id, "status": live.status, "online": live.online}
    for name, (attr, _) in LIVE_FIELDS.items():
        data[name] = getattr(live, attr)
    data.update(
        messages=list(live.messages),
        trays=list(live.trays),
        offline_reason=None if live.online else live.offline_reason,
    )
    return data


def is_online(live: LiveStatus | None, hub_online: bool) -> bool:
    return live is not None and live.online and hub_online


def fine_status(row_status: str, live: LiveStatus | None, hub_online: bool) -> str:
    """The ``/status`` status: maintenance, offline, or what the driver reports."""
    if row_status == PrinterStatus.MAINTENANCE:
        return PrinterStatus.MAINTENANCE.value
    if live is None or not is_online(live, hub_online):
        return PrinterStatus.OFFLINE.value
    return live.status


def coarse_status(row_status: str, live: LiveStatus | None, hub_online: bool) -> str:
    """The list/detail/stats status (idle, printing, paused, maintenance, offline, error)."""
    fine = fine_status(row_status, live, hub_online)
    try:
        return ROW_STATUS[Status(fine)].value
    except ValueError:  # maintenance
        return fine


def status_view(
    printer_id: str,
    stored: dict[str, Any],
    live: LiveStatus | None,
    hub_online: bool,
    capabilities: list[str] | None,
) -> dict[str, Any]:
    """The ``/printers/{id}/status`` object from the stored row and the live state."""
    online = is_online(live, hub_online)
    data: dict[str, Any] = {
        "printer_id": printer_id,
        "hub_online": online,
        "status": fine_status(stored["status"], live, hub_online),
    }
    for name, (attr, _) in LIVE_FIELDS.items():
        data[name] = getattr(live, attr) if online and live is not None else None
    last = live.last_telemetry_at if live is not None else None
    data.update(
        current_job_id=stored["current_job_id"],
        print_started_at=iso(stored.get("print_started_at")),
        current_color=stored["current_color"],
        current_color_hex=stored["current_color_hex"],
        current_filament_type=stored["current_filament_type"],
        last_telemetry_at=iso(last or stored["last_telemetry_at"]),
        bed_clear_required=bool(stored.get("awaiting_bed_clear")),
        offline_reason=None if online or live is None else live.offline_reason,
        messages=list(live.messages) if online and live is not None else [],
        trays=list(live.trays) if online and live is not None else [],
        capabilities=capabilities,
    )
    return data


def capability_names(capabilities: frozenset[str] | None) -> list[str] | None:
    """A driver's capability set as the API lists it (sorted names); None when unknown."""
    return None if capabilities is None else sorted(str(c) for c in capabilities)


class StatusViews:
    """The last ``/status`` view of each printer, rebuilt only when an input changed.

    The inputs are immutable objects replaced on change (the cached stored row, the
    frozen :class:`LiveStatus`, the driver's capability set), so "changed" is "is a
    different object": a poll of an unchanged printer builds nothing and returns the
    very same dict, which callers must treat as read-only.
    """

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._views: dict[str, tuple[tuple[object, ...], dict[str, Any]]] = {}

    def view(
        self,
        printer_id: str,
        stored: dict[str, Any],
        live: LiveStatus | None,
        hub_online: bool,
        capabilities: frozenset[str] | None,
    ) -> dict[str, Any]:
        hit = self._views.get(printer_id)
        if hit is not None:
            was = hit[0]
            if (
                was[0] is stored
                and was[1] is live
                and was[2] is hub_online
                and was[3] is capabilities
            ):
                return hit[1]
        data = status_view(printer_id, stored, live, hub_online, capability_names(capabilities))
        if len(self._views) >= self._size:
            self._views.clear()
        self._views[printer_id] = ((stored, live, hub_online, capabilities), data)
        return data
