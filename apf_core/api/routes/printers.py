"""Printers (reference 3.1) plus self-hosted registration (POST/DELETE)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from ...drivers.base import EXTERNAL_TRAY_IDS
from ...errors import BadRequest
from ...lifecycle.status import STATUS_SCHEMA
from ...services.hubs import HubService
from ...services.printer_control import PrinterControlService
from ...services.printer_schemas import (
    FILAMENT_LOAD,
    FILAMENT_UNLOAD,
    PRINTER,
    PRINTER_CONTROL,
    PRINTER_DELETED,
    PRINTER_DETAIL,
    PRINTER_LIGHT,
    PRINTER_STATS,
    PRINTER_TEMPERATURE,
    PRINTER_WITH_CAPABILITIES,
)
from ...services.printers import PROTOCOLS, STATUSES, PrinterService
from ..framework import (
    BOOL_STRING,
    Ctx,
    RenderedBodies,
    RouteTable,
    created,
    nullable,
    ok,
    text,
)

routes = RouteTable("Printers", "Printers, their live status and physical control.")

EDITABLE: dict[Any, Any] = {
    vol.Optional("model"): nullable(text(120)),
    vol.Optional("manufacturer"): nullable(text(120)),
    vol.Optional("location"): nullable(text(200)),
    vol.Optional("notes"): nullable(text(2000)),
    vol.Optional("nozzle_size"): nullable(vol.All(vol.Coerce(float), vol.Range(min=0.1, max=2.0))),
    vol.Optional("current_color"): nullable(text(50)),
    vol.Optional("current_color_hex"): nullable(vol.Match(r"^#[0-9A-Fa-f]{6}$")),
    vol.Optional("current_filament_type"): nullable(text(50)),
    vol.Optional("current_build_plate"): nullable(text(100)),
    vol.Optional("has_ams"): bool,
    vol.Optional("is_active"): bool,
    vol.Optional("auto_dispatch"): bool,
    vol.Optional("tags"): [text(50, 1)],
    vol.Optional("connection"): dict,
    vol.Optional("hub_id"): nullable(text(64, 1)),
}
CREATE = {
    vol.Required("name"): text(120, 1),
    vol.Required("protocol"): vol.In(PROTOCOLS),
    **EDITABLE,
}
PATCH = {
    vol.Optional("name"): text(120, 1),
    vol.Optional("protocol"): vol.In(PROTOCOLS),
    **EDITABLE,
}


@routes.get(
    "/printers",
    scope="read",
    summary="List printers",
    response=[PRINTER],
    query={
        vol.Optional("is_active"): BOOL_STRING,
        vol.Optional("status"): vol.In(STATUSES),
        vol.Optional("location"): text(200, 1),
        vol.Optional("search"): text(120, 1),
    },
)
async def list_printers(ctx: Ctx) -> web.StreamResponse:
    """All printers, sorted by name. Not paginated."""
    return ok(await PrinterService(ctx.farm).list(**ctx.query))


@routes.post(
    "/printers",
    scope="write",
    summary="Register a printer",
    response=PRINTER_DETAIL,
    body=CREATE,
    status=201,
    errors=("PRINTER_NAME_TAKEN", "HUB_NOT_FOUND"),
    description=(
        "Self-hosted extension. `connection` is stored but never returned or logged; it is "
        "checked per protocol (`url` an http(s) URL with a host for OctoPrint, Moonraker and "
        "PrusaLink; `host`, `serial` and `access_code` for Bambu). Names are unique ignoring "
        "case (`409 PRINTER_NAME_TAKEN`)."
    ),
)
async def create_printer(ctx: Ctx) -> web.StreamResponse:
    await _check_hub(ctx)
    return created(await PrinterService(ctx.farm).create(ctx.body))


async def _check_hub(ctx: Ctx) -> None:
    """``hub_id`` (a remote hub, our extension) must exist; null means the embedded hub."""
    hub_id = ctx.body.get("hub_id")
    if hub_id:
        await HubService(ctx.farm).get(hub_id)  # 404 HUB_NOT_FOUND


@routes.get(
    "/printers/stats", scope="read", summary="Printer counts by status", response=PRINTER_STATS
)
async def printer_stats(ctx: Ctx) -> web.StreamResponse:
    return ok(await PrinterService(ctx.farm).stats())


@routes.get(
    "/printers/{id}",
    scope="read",
    summary="Get a printer",
    errors=("PRINTER_NOT_FOUND",),
    response=PRINTER_WITH_CAPABILITIES,
)
async def get_printer(ctx: Ctx) -> web.StreamResponse:
    return ok(await PrinterService(ctx.farm).get(ctx.params["id"]))


@routes.patch(
    "/printers/{id}",
    scope="write",
    summary="Update a printer",
    response=PRINTER_DETAIL,
    body=PATCH,
    errors=("PRINTER_NOT_FOUND", "PRINTER_NAME_TAKEN", "HUB_NOT_FOUND"),
)
async def update_printer(ctx: Ctx) -> web.StreamResponse:
    await _check_hub(ctx)
    if "hub_id" in ctx.body and ctx.body["hub_id"] is None:
        ctx.body["hub_id"] = ctx.farm.embedded_hub_id
    return ok(await PrinterService(ctx.farm).update(ctx.params["id"], ctx.body))


@routes.delete(
    "/printers/{id}",
    scope="write",
    summary="Remove a printer",
    errors=("PRINTER_PRINTING",),
    response=PRINTER_DELETED,
)
async def delete_printer(ctx: Ctx) -> web.StreamResponse:
    return ok(await PrinterService(ctx.farm).delete(ctx.params["id"]))


@routes.get(
    "/printers/{id}/status",
    scope="read",
    summary="Live printer status",
    response=STATUS_SCHEMA,
    polled=True,
)
async def printer_status(ctx: Ctx) -> web.StreamResponse:
    """Served from memory. Live fields are null when the printer is unreachable."""
    printer_id = ctx.params["id"]
    return _STATUS_BODIES.ok(printer_id, await PrinterService(ctx.farm).status(printer_id))


#: HA and dashboards poll status: an unchanged view is not serialised again
_STATUS_BODIES = RenderedBodies(size=4096)


@routes.post(
    "/printers/{id}/control",
    scope="control",
    summary="Pause, resume, stop, clear the bed, home or cool down",
    response=PRINTER_CONTROL,
    body={
        vol.Required("action"): vol.In(
            ("pause", "resume", "stop", "clear_bed", "home", "cooldown")
        ),
        vol.Optional("result"): vol.In(("success", "failed")),
    },
    errors=("INVALID_STATE", "HUB_OFFLINE", "HUB_COMMAND_FAILED"),
    description="Waits for the printer's acknowledgement. `clear_bed` takes an optional "
    "`result` (`success` default; `failed` re-queues the last job).",
)
async def control_printer(ctx: Ctx) -> web.StreamResponse:
    body = ctx.body
    if body["action"] in ("home", "cooldown"):  # home is refused while printing
        return ok(await PrinterControlService(ctx.farm).manual(ctx.params["id"], body["action"]))
    return ok(
        await PrinterService(ctx.farm).control(ctx.params["id"], body["action"], body.get("result"))
    )


def _light_state(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("on", "off"):
        return value.lower() == "on"
    raise BadRequest('state must be true, false, "on" or "off"', code="INVALID_STATE")


@routes.post(
    "/printers/{id}/light",
    scope="control",
    summary="Switch the chamber light",
    response=PRINTER_LIGHT,
    body={
        # "on"/"off" in any case (the handler lowers it): one enum value per word, as SDK
        # generators name enum members by the uppercased value
        vol.Required("state"): vol.Any(bool, vol.In(("on", "off")), str)
    },
    errors=("INVALID_STATE", "HUB_OFFLINE", "CAPABILITY_NOT_SUPPORTED"),
    # the reference: a state that is not on/off is a 400 INVALID_STATE (elsewhere it is a 409)
    error_status={"INVALID_STATE": 400},
)
async def printer_light(ctx: Ctx) -> web.StreamResponse:
    on = _light_state(ctx.body["state"])
    return ok(await PrinterService(ctx.farm).light(ctx.params["id"], on))


@routes.put(
    "/printers/{id}/maintenance",
    scope="write",
    summary="Enter or leave maintenance",
    response=PRINTER_DETAIL,
    body={
        vol.Required("in_maintenance"): bool,
        vol.Optional("maintenance_type"): nullable(text(120)),
    },
    errors=("PRINTER_PRINTING",),
)
async def printer_maintenance(ctx: Ctx) -> web.StreamResponse:
    body = ctx.body
    return ok(
        await PrinterService(ctx.farm).set_maintenance(
            ctx.params["id"], body["in_maintenance"], body.get("maintenance_type")
        )
    )


_LIMITS = {"nozzle": 300, "bed": 120, "chamber": 60}


def _temperature_body(value: dict[str, Any]) -> dict[str, Any]:
    limit = _LIMITS[value["heater"]]
    if not 0 <= value["target"] <= limit:
        raise vol.Invalid(
            f"must be between 0 and {limit} °C for {value['heater']}", path=["target"]
        )
    return value


@routes.post(
    "/printers/{id}/temperature",
    scope="control",
    summary="Set a heater target",
    response=PRINTER_TEMPERATURE,
    body=vol.Schema(
        vol.All(
            {
                vol.Required("heater"): vol.In(tuple(_LIMITS)),
                vol.Required("target"): vol.All(vol.Coerce(float)),
            },
            _temperature_body,
        )
    ),
    description="Nozzle 0-300 °C, bed 0-120 °C, chamber 0-60 °C.",
)
async def printer_temperature(ctx: Ctx) -> web.StreamResponse:
    body = ctx.body
    return ok(
        await PrinterService(ctx.farm).temperature(ctx.params["id"], body["heater"], body["target"])
    )


@routes.post(
    "/printers/{id}/filament/load",
    scope="control",
    summary="Load filament",
    response=FILAMENT_LOAD,
    body={
        vol.Optional("tray_id", default=254): vol.All(
            int,
            vol.Any(
                vol.Range(min=0, max=15),
                vol.Range(min=128, max=135),
                vol.In(EXTERNAL_TRAY_IDS),
                msg="must be 0-15 (AMS), 128-135 (AMS HT) or 254/255 (external spools)",
            ),
        ),
        vol.Optional("temperature", default=220): vol.All(
            vol.Coerce(float), vol.Range(min=150, max=300)
        ),
    },
    errors=("INVALID_TRAY", "PRINTER_PRINTING", "HUB_OFFLINE"),
    description="`tray_id`: AMS trays 0-15 (unit * 4 + slot), AMS HT units 128-135, the "
    "external spool 254 and H2D's second external spool 255. When the printer reports its "
    "trays, only those are accepted (`INVALID_TRAY` lists them).",
)
async def filament_load(ctx: Ctx) -> web.StreamResponse:
    body = ctx.body
    return ok(
        await PrinterService(ctx.farm).filament(
            ctx.params["id"], "filament_load", body["tray_id"], body["temperature"]
        )
    )


@routes.post(
    "/printers/{id}/filament/unload",
    scope="control",
    summary="Unload filament",
    body={},
    response=FILAMENT_UNLOAD,
)
async def filament_unload(ctx: Ctx) -> web.StreamResponse:
    return ok(await PrinterService(ctx.farm).filament(ctx.params["id"], "filament_unload"))
