"""Colour presets (reference 3.5): a small reference dataset, not paginated."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ...services.colors import COLOR_SCHEMA, ColorService
from ..framework import BOOL_STRING, Ctx, RouteTable, created, ok, text
from ._business import HEX

routes = RouteTable("Colors", "Filament colour presets.")


@routes.get(
    "/colors",
    scope="read",
    summary="List colour presets",
    query={vol.Optional("filament_type"): text(50, 1), vol.Optional("is_active"): BOOL_STRING},
    response=[COLOR_SCHEMA],
)
async def list_colors(ctx: Ctx) -> web.StreamResponse:
    return ok(
        await ColorService(ctx.farm).list(
            filament_type=ctx.query.get("filament_type"), is_active=ctx.query.get("is_active")
        )
    )


@routes.post(
    "/colors",
    scope="write",
    summary="Create a colour preset",
    status=201,
    body={
        vol.Required("color_name"): text(100, 1),
        vol.Required("hex_code"): HEX,
        vol.Required("filament_type"): text(50, 1),
    },
    errors=("DUPLICATE_COLOR",),
    response=COLOR_SCHEMA,
)
async def create_color(ctx: Ctx) -> web.StreamResponse:
    """`hex_code` and `filament_type` are stored uppercase; a second preset with the same
    name (case-insensitive) and filament type is a 409 `DUPLICATE_COLOR`."""
    return created(await ColorService(ctx.farm).create(ctx.body))


@routes.get(
    "/colors/filament-types",
    scope="read",
    summary="Filament types of active presets",
    response=[str],
)
async def filament_types(ctx: Ctx) -> web.StreamResponse:
    return ok(await ColorService(ctx.farm).filament_types())


@routes.patch(
    "/colors/{id}",
    scope="write",
    summary="Update a colour preset",
    body={
        vol.Optional("color_name"): text(100, 1),
        vol.Optional("hex_code"): HEX,
        vol.Optional("filament_type"): text(50, 1),
        vol.Optional("is_active"): bool,
    },
    errors=("COLOR_NOT_FOUND", "DUPLICATE_COLOR"),
    response=COLOR_SCHEMA,
)
async def update_color(ctx: Ctx) -> web.StreamResponse:
    return ok(await ColorService(ctx.farm).update(ctx.params["id"], ctx.body))
