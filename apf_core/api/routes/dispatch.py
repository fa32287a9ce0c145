"""Dispatch: farm-wide auto-dispatch switch, manual passes, eligibility (our extension)."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ...services.dispatch import (
    ATTEMPT_ROW_SCHEMA,
    ELIGIBILITY_SCHEMA,
    PASS_SCHEMA,
    SETTINGS_SCHEMA,
    DispatchService,
)
from ..framework import Ctx, RouteTable, ok, page_query, paged

routes = RouteTable(
    "Dispatch",
    "Automatic routing of queued jobs to compatible idle printers (self-hosted extension).",
)


@routes.get(
    "/dispatch/settings",
    scope="read",
    summary="Get the auto-dispatch settings",
    response=SETTINGS_SCHEMA,
)
async def get_dispatch_settings(ctx: Ctx) -> web.StreamResponse:
    return ok(DispatchService(ctx.farm).settings())


@routes.put(
    "/dispatch/settings",
    scope="write",
    summary="Turn auto-dispatch on or off farm-wide",
    response=SETTINGS_SCHEMA,
    body={vol.Required("enabled"): bool},
    description="Stored in the server settings; survives restarts. Per printer, use "
    "`auto_dispatch` on the printer.",
)
async def put_dispatch_settings(ctx: Ctx) -> web.StreamResponse:
    return ok(await DispatchService(ctx.farm).update_settings(ctx.body["enabled"]))


@routes.post(
    "/dispatch/run",
    scope="control",
    summary="Run one dispatch pass now",
    response=PASS_SCHEMA,
    body={},
    description="Starts queued jobs on eligible idle printers even when the farm-wide switch "
    "is off (a manual pass). Returns each attempt.",
)
async def run_dispatch_pass(ctx: Ctx) -> web.StreamResponse:
    return ok(await DispatchService(ctx.farm).run())


@routes.get(
    "/dispatch/history",
    scope="read",
    summary="Recent dispatch attempts",
    response=[ATTEMPT_ROW_SCHEMA],
    query=page_query(),
    paginated=True,
)
async def dispatch_history(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    rows = await DispatchService(ctx.farm).history(limit=q["limit"], offset=q["offset"])
    return paged(rows, q["limit"], q["offset"])


@routes.get(
    "/jobs/{id}/eligibility",
    scope="read",
    summary="Why each printer can or cannot take a queued job",
    response=ELIGIBILITY_SCHEMA,
    errors=("JOB_NOT_FOUND", "INVALID_STATE"),
)
async def job_eligibility(ctx: Ctx) -> web.StreamResponse:
    """For a queued job: every printer with `eligible` and the `reasons` it is not."""
    return ok(await DispatchService(ctx.farm).eligibility(ctx.params["id"]))
