"""Assembly tasks (reference 3.8). Assignee ids and finished-good refs are never returned."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ...services.assembly import (
    COMPLETED_SCHEMA,
    STATS_SCHEMA,
    TASK_DETAIL_SCHEMA,
    TASK_SCHEMA,
    TASK_STATUSES,
    TASK_TYPES,
    AssemblyService,
)
from ..framework import Ctx, RouteTable, created, nullable, ok, page_query, paged, text
from ._business import ID, integer

routes = RouteTable("Assembly", "Print-assembly and kit-assembly work.")


@routes.get(
    "/assembly",
    scope="read",
    summary="List assembly tasks",
    query={
        vol.Optional("status"): vol.In(TASK_STATUSES),
        vol.Optional("task_type"): vol.In(TASK_TYPES),
        **page_query(),
    },
    paginated=True,
    response=[TASK_SCHEMA],
)
async def list_assembly_tasks(ctx: Ctx) -> web.StreamResponse:
    """in_progress, then pending, then completed (then cancelled); newest first within."""
    q = ctx.query
    rows = await AssemblyService(ctx.farm).list(
        status=q.get("status"), task_type=q.get("task_type"), limit=q["limit"], offset=q["offset"]
    )
    return paged(rows, q["limit"], q["offset"])


@routes.get(
    "/assembly/stats",
    scope="read",
    summary="Assembly counts and quantities by status",
    response=STATS_SCHEMA,
)
async def assembly_stats(ctx: Ctx) -> web.StreamResponse:
    return ok(await AssemblyService(ctx.farm).stats())


@routes.post(
    "/assembly",
    scope="write",
    summary="Create an assembly task",
    status=201,
    body={
        vol.Required("finished_good_id"): ID,
        vol.Optional("quantity", default=1): integer(1, 100000),
        vol.Optional("assigned_to"): nullable(text(100, 1)),
        vol.Optional("notes"): nullable(text(2000)),
        vol.Optional("task_type"): vol.In(TASK_TYPES),
    },
    errors=("FINISHED_GOOD_NOT_FOUND", "NOT_A_KIT"),
    response=TASK_SCHEMA,
)
async def create_assembly_task(ctx: Ctx) -> web.StreamResponse:
    """`task_type` defaults to kit_assembly for kits, print_assembly otherwise."""
    return created(await AssemblyService(ctx.farm).create(ctx.body))


@routes.get(
    "/assembly/{id}",
    scope="read",
    summary="Get an assembly task",
    errors=("ASSEMBLY_TASK_NOT_FOUND",),
    response=TASK_DETAIL_SCHEMA,
)
async def get_assembly_task(ctx: Ctx) -> web.StreamResponse:
    """Adds `wiki_article`: product.wiki_id, else an article for the SKU, else for the product."""
    return ok(await AssemblyService(ctx.farm).get(ctx.params["id"]))


@routes.patch(
    "/assembly/{id}",
    scope="write",
    summary="Update an assembly task",
    body={
        vol.Optional("quantity"): integer(1, 100000),
        vol.Optional("assigned_to"): nullable(text(100, 1)),
        vol.Optional("notes"): nullable(text(2000)),
        vol.Optional("status"): vol.In(("pending", "in_progress", "completed")),
    },
    errors=("ASSEMBLY_TASK_NOT_FOUND",),
    response=TASK_SCHEMA,
)
async def update_assembly_task(ctx: Ctx) -> web.StreamResponse:
    """No inventory side effects; `completed` stamps `completed_at` (kept if moved back)."""
    return ok(await AssemblyService(ctx.farm).update(ctx.params["id"], ctx.body))


@routes.post(
    "/assembly/{id}/complete",
    scope="write",
    summary="Complete an assembly task",
    body={
        vol.Optional("quantity_completed"): integer(1, 100000),
        vol.Optional("notes"): nullable(text(2000)),
    },
    errors=(
        "ASSEMBLY_TASK_NOT_FOUND",
        "TASK_ALREADY_COMPLETED",
        "INVALID_STATE",
        "INSUFFICIENT_FOR_KIT",
        "INSUFFICIENT_STOCK",
    ),
    response=COMPLETED_SCHEMA,
)
async def complete_assembly_task(ctx: Ctx) -> web.StreamResponse:
    """kit_assembly takes the parts from stock and credits the kit's ready stock;
    print_assembly moves units from awaiting-assembly to ready stock. A smaller
    `quantity_completed` completes the task with that quantity (as AutoPrintFarm does).
    Notes are appended after `---`."""
    return ok(
        await AssemblyService(ctx.farm).complete(
            ctx.params["id"], ctx.body.get("quantity_completed"), ctx.body.get("notes")
        )
    )
