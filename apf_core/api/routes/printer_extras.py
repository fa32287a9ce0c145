"""Manual printer control beyond pause/resume/stop: G-code, print speed, power devices."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ...drivers.base import SPEED_LEVELS
from ...services.printer_control import POWER_DEVICES_SCHEMA, PrinterControlService
from ...services.printer_schemas import GCODE_SENT, POWER_SET, SPEED_SET
from ..framework import Ctx, RouteTable, ok, text

routes = RouteTable("Printers", "Printers, their live status and physical control.")
_ERRORS = ("PRINTER_PRINTING", "HUB_OFFLINE", "HUB_COMMAND_FAILED", "CAPABILITY_NOT_SUPPORTED")


@routes.post(
    "/printers/{id}/gcode",
    scope="control",
    summary="Send G-code",
    response=GCODE_SENT,
    body={vol.Required("script"): text(10000, 1)},
    errors=_ERRORS,
    description="Like SimplyPrint's SendGcode: lines separated by newlines. Refused while "
    "printing. Bambu printers need LAN mode with Developer mode (`DEVELOPER_MODE_REQUIRED`).",
)
async def send_gcode(ctx: Ctx) -> web.StreamResponse:
    service = PrinterControlService(ctx.farm)
    return ok(await service.manual(ctx.params["id"], "gcode", {"script": ctx.body["script"]}))


@routes.post(
    "/printers/{id}/speed",
    scope="control",
    summary="Set the print speed",
    response=SPEED_SET,
    body={vol.Required("level"): vol.In(tuple(SPEED_LEVELS))},
    errors=_ERRORS,
    description="Bambu speed levels; Klipper and OctoPrint get `M220` with "
    "silent 50 %, standard 100 %, sport 124 %, ludicrous 166 %.",
)
async def set_speed(ctx: Ctx) -> web.StreamResponse:
    service = PrinterControlService(ctx.farm)
    return ok(await service.manual(ctx.params["id"], "speed", {"level": ctx.body["level"]}))


@routes.post(
    "/printers/{id}/power",
    scope="control",
    summary="Switch a power device",
    response=POWER_SET,
    body={vol.Required("device"): text(120, 1), vol.Required("on"): bool},
    errors=(*_ERRORS, "INVALID_DEVICE"),
    description="Moonraker `[power]` devices (see `GET /printers/{id}/power-devices`); a name "
    "the printer does not have is a 400 `INVALID_DEVICE`. Refused while printing.",
)
async def set_power(ctx: Ctx) -> web.StreamResponse:
    body = ctx.body
    service = PrinterControlService(ctx.farm)
    return ok(
        await service.manual(
            ctx.params["id"], "power", {"device": body["device"], "on": body["on"]}
        )
    )


@routes.get(
    "/printers/{id}/power-devices",
    scope="read",
    summary="List power devices",
    response=POWER_DEVICES_SCHEMA,
    errors=("PRINTER_NOT_FOUND", "HUB_OFFLINE", "HUB_COMMAND_FAILED", "CAPABILITY_NOT_SUPPORTED"),
    description="The switchable power devices of the printer's host (Moonraker `[power]`) and "
    "whether each is on (`null`: unknown, e.g. an HTTP device that did not answer). Switch one "
    "with `POST /printers/{id}/power`. Printers without them: `CAPABILITY_NOT_SUPPORTED`.",
)
async def power_devices(ctx: Ctx) -> web.StreamResponse:
    return ok(await PrinterControlService(ctx.farm).power_devices(ctx.params["id"]))


@routes.get(
    "/printers/{id}/camera/snapshot",
    scope="read",
    summary="One camera picture (JPEG)",
    response_kind="jpeg",
    errors=(
        "PRINTER_NOT_FOUND",
        "HUB_OFFLINE",
        "HUB_COMMAND_FAILED",
        "SNAPSHOT_TOO_LARGE",
        "CAPABILITY_NOT_SUPPORTED",
    ),
    description="`image/jpeg`, also for printers on a remote hub (relayed through the hub "
    "link, at most 2 MB: `SNAPSHOT_TOO_LARGE`). OctoPrint: the snapshot URL from its "
    "settings; Moonraker: its webcams API; Bambu P1/A1: the JPEG stream on port 6000; "
    "Bambu X1/H2: RTSPS through ffmpeg "
    "(`CAPABILITY_NOT_SUPPORTED` with the reason when ffmpeg is missing).",
)
async def camera_snapshot(ctx: Ctx) -> web.StreamResponse:
    image = await PrinterControlService(ctx.farm).snapshot(ctx.params["id"])
    return web.Response(
        body=image, content_type="image/jpeg", headers={"Cache-Control": "no-store"}
    )
