"""Hubs (reference 3.7)."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ...services.hubs import HubService
from ..framework import Ctx, RouteTable, created, ok, text

routes = RouteTable("Hubs", "Hubs run the printer drivers; the embedded hub is this server.")


@routes.get("/hubs", scope="read", summary="List hubs")
async def list_hubs(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).list())


@routes.post(
    "/hubs",
    scope="write",
    summary="Create a remote hub (returns its token once)",
    body={vol.Required("name"): text(200, 1)},
    status=201,
    description="Self-hosted extension. Run `apf hub --server URL --token TOKEN` on the farm's "
    "LAN with the returned `token`; it is shown once and never stored in clear (its SHA-256 "
    "and a key derived from it, sealed with the server's master key). "
    "Register printers on the hub with `hub_id`.",
)
async def create_hub(ctx: Ctx) -> web.StreamResponse:
    return created(await HubService(ctx.farm).create_remote(ctx.body["name"]))


@routes.post(
    "/hubs/{id}/rotate-token",
    scope="write",
    summary="Give a remote hub a new token (returned once)",
    errors=("HUB_NOT_FOUND", "HUB_EMBEDDED"),
    description="Self-hosted extension. The old token stops working at once: the hub is cut "
    "off until `apf hub` runs with the new `token`. Hubs created before the authenticated "
    "protocol need this once. `HUB_EMBEDDED` (409): the embedded hub has no token.",
)
async def rotate_hub_token(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).rotate_token(ctx.params["id"]))


@routes.delete(
    "/hubs/{id}",
    scope="write",
    summary="Delete a remote hub",
    errors=("HUB_NOT_FOUND", "HUB_IN_USE", "HUB_EMBEDDED"),
    description="Self-hosted extension. Refused with `HUB_IN_USE` (409, `printer_count`) while "
    "printers are assigned to the hub, and with `HUB_EMBEDDED` (409) for the embedded hub.",
)
async def delete_hub(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).delete(ctx.params["id"]))


@routes.get(
    "/hubs/{id}", scope="read", summary="Get a hub with its printers", errors=("HUB_NOT_FOUND",)
)
async def get_hub(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).get(ctx.params["id"]))


@routes.get("/hubs/{id}/connection", scope="read", summary="Hub connection snapshot")
async def hub_connection(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).connection(ctx.params["id"]))


@routes.get("/hubs/{id}/status", scope="read", summary="Alias of /hubs/{id}/connection")
async def hub_status(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).connection(ctx.params["id"]))


@routes.get(
    "/hubs/{id}/discovered-printers", scope="read", summary="Printers the hub found on its LAN"
)
async def hub_discovered(ctx: Ctx) -> web.StreamResponse:
    """`discovered_at` is epoch milliseconds, or null if the hub never scanned."""
    return ok(await HubService(ctx.farm).discovered(ctx.params["id"]))
