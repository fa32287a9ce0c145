"""Response schemas of the printer routes, generated from the field lists the views use."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from ..drivers.base import SPEED_LEVELS
from ..storage.tables.spine import printers
from .printers import DETAIL_FIELDS, LIST_FIELDS, STATUSES
from .row_schema import NUMBER, nullable, row_schema

_DERIVED = {"status": vol.In(STATUSES), "tags": nullable([str])}

#: a list item (``GET /printers``)
PRINTER = row_schema(printers, LIST_FIELDS, _DERIVED)
#: create, update and maintenance answers
PRINTER_DETAIL = row_schema(printers, DETAIL_FIELDS, _DERIVED)
#: ``GET /printers/{id}``: the detail plus what the connected driver declares (null if none)
PRINTER_WITH_CAPABILITIES = {**PRINTER_DETAIL, vol.Required("capabilities"): nullable([str])}

PRINTER_STATS = {
    vol.Required("total"): int,
    vol.Required("by_status"): {vol.Required(status): int for status in STATUSES},
}
PRINTER_DELETED = {
    vol.Required("id"): str,
    vol.Required("deleted"): bool,
    vol.Required("name"): str,
}


def _command(action: Any = None, **fields: Any) -> dict[Any, Any]:
    """An acknowledged command: the printer, the command id and what was asked."""
    schema: dict[Any, Any] = {vol.Required("printer_id"): str, vol.Required("command_id"): str}
    if action is not None:
        schema[vol.Required("action")] = action
    schema.update({vol.Required(name): validator for name, validator in fields.items()})
    return schema


#: ``POST /printers/{id}/control``: ``status`` is what the action leads to (home and cooldown
#: leave it as it was); ``result`` and ``requeued_job_id`` come with clear_bed
PRINTER_CONTROL = {
    **_command(vol.In(("pause", "resume", "stop", "clear_bed", "home", "cooldown"))),
    vol.Required("status"): vol.In(STATUSES),
    vol.Optional("result"): vol.In(("success", "failed")),
    vol.Optional("requeued_job_id"): nullable(str),
}
PRINTER_LIGHT = _command(state=bool)
PRINTER_TEMPERATURE = _command(heater=vol.In(("nozzle", "bed", "chamber")), target=NUMBER)
FILAMENT_LOAD = _command(tray_id=int, temperature=NUMBER)
FILAMENT_UNLOAD = _command()
GCODE_SENT = _command(vol.In(("gcode",)), script=str)
SPEED_SET = _command(vol.In(("speed",)), level=vol.In(tuple(SPEED_LEVELS)))
POWER_SET = _command(vol.In(("power",)), device=str, on=bool)
