"""Hubs (reference 3.7)."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ...services.discovery import DiscoveryService
from ...services.hub_schemas import (
    DISCOVERY_LISTING,
    HUB,
    HUB_CONNECTION,
    HUB_DELETED,
    HUB_DETAIL,
    HUB_WITH_TOKEN,
)
from ...services.hubs import HubService
from ...services.printer_schemas import PRINTER_DETAIL
from ..framework import Ctx, RouteTable, created, ok, text
from .printers import EDITABLE

routes = RouteTable("Hubs", "Hubs run the printer drivers; the embedded hub is this server.")


@routes.get("/hubs", scope="read", summary="List hubs", response=[HUB])
async def list_hubs(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).list())


@routes.post(
    "/hubs",
    scope="write",
    summary="Create a remote hub (returns its token once)",
    response=HUB_WITH_TOKEN,
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
    response=HUB_WITH_TOKEN,
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
    response=HUB_DELETED,
    errors=("HUB_NOT_FOUND", "HUB_IN_USE", "HUB_EMBEDDED"),
    description="Self-hosted extension. Refused with `HUB_IN_USE` (409, `printer_count`) while "
    "printers are assigned to the hub, and with `HUB_EMBEDDED` (409) for the embedded hub.",
)
async def delete_hub(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).delete(ctx.params["id"]))


@routes.get(
    "/hubs/{id}",
    scope="read",
    summary="Get a hub with its printers",
    errors=("HUB_NOT_FOUND",),
    response=HUB_DETAIL,
)
async def get_hub(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).get(ctx.params["id"]))


@routes.get(
    "/hubs/{id}/connection",
    scope="read",
    summary="Hub connection snapshot",
    response=HUB_CONNECTION,
)
async def hub_connection(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).connection(ctx.params["id"]))


@routes.get(
    "/hubs/{id}/status",
    scope="read",
    summary="Alias of /hubs/{id}/connection",
    response=HUB_CONNECTION,
)
async def hub_status(ctx: Ctx) -> web.StreamResponse:
    return ok(await HubService(ctx.farm).connection(ctx.params["id"]))


@routes.get(
    "/hubs/{id}/discovered-printers",
    scope="read",
    summary="Printers the hub found on its LAN",
    response=DISCOVERY_LISTING,
    errors=("HUB_NOT_FOUND",),
    description="`discovered_at` is epoch milliseconds, or null if the hub never scanned. "
    "Each printer: `id` (use it to add the printer), `protocol`, `name`, `ip`, `port`, "
    "`hostname`, `url`, `model`, `serial` (Bambu), `firmware_version`, `source` "
    "(mdns|ssdp), `is_registered` and `printer_id` (the registered printer, or null).",
)
async def hub_discovered(ctx: Ctx) -> web.StreamResponse:
    return ok(await DiscoveryService(ctx.farm).listing(ctx.params["id"]))


@routes.post(
    "/hubs/{id}/discovered-printers/scan",
    scope="write",
    summary="Scan the hub's LAN for printers now",
    response=DISCOVERY_LISTING,
    body={vol.Optional("seconds"): vol.All(vol.Coerce(float), vol.Range(min=0.5, max=30))},
    errors=("HUB_NOT_FOUND", "HUB_OFFLINE", "HUB_COMMAND_FAILED"),
    description="Self-hosted extension. Listens for `seconds` (default `APF_DISCOVERY_SECONDS`, "
    "5) for mDNS announcements (`_octoprint._tcp`, `_moonraker._tcp`, `_prusalink._tcp`) and "
    "Bambu SSDP NOTIFYs on UDP 2021, stores the result and returns it as "
    "`GET /hubs/{id}/discovered-printers` does (an empty list when nothing answered). "
    "A remote hub scans its own LAN: `HUB_OFFLINE` (503) when it is not connected, "
    "`HUB_COMMAND_FAILED` (503) when it does not answer in time.",
)
async def hub_scan(ctx: Ctx) -> web.StreamResponse:
    return ok(await DiscoveryService(ctx.farm).scan(ctx.params["id"], ctx.body.get("seconds")))


ADD_DISCOVERED = {
    vol.Optional("name"): text(120, 1),
    **{k: v for k, v in EDITABLE.items() if k != "hub_id"},
}


@routes.post(
    "/hubs/{id}/discovered-printers/{discovered_id}/add",
    scope="write",
    summary="Register a discovered printer",
    response=PRINTER_DETAIL,
    body=ADD_DISCOVERED,
    status=201,
    errors=(
        "HUB_NOT_FOUND",
        "DISCOVERED_PRINTER_NOT_FOUND",
        "PRINTER_ALREADY_REGISTERED",
        "VALIDATION_ERROR",
    ),
    description="Self-hosted extension. Protocol, address (`connection.url`, or Bambu "
    "`connection.host` + `serial`), name and model come from the last scan; the body gives "
    "the credentials (`connection.api_key` for OctoPrint, `connection.access_code` for Bambu, "
    "`connection.password` or `api_key` for PrusaLink) and may override any field. A missing "
    "credential is `VALIDATION_ERROR` naming `connection.<field>`. Returns the printer as "
    "`POST /printers` does; `PRINTER_ALREADY_REGISTERED` (409, `printer_id`) if it exists.",
)
async def hub_add_discovered(ctx: Ctx) -> web.StreamResponse:
    service = DiscoveryService(ctx.farm)
    return created(await service.add(ctx.params["id"], ctx.params["discovered_id"], ctx.body))
