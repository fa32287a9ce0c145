"""Worklist (reference 3.11): operator tasks with printer side effects."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from ...services.worklist import (
    PRIORITIES,
    STATUSES,
    TASK_SCHEMA,
    TASK_TYPES,
    WorklistService,
)
from ...services.worklist import STATS_SCHEMA as TASK_STATS
from ...timeutil import parse_iso
from ..framework import Ctx, RouteTable, created, nullable, ok, page_query, paged, text

routes = RouteTable("Worklist", "Operator tasks: collection, filament changes, maintenance, QC.")


#: offsets past this fail in the database drivers (64-bit overflow); no list gets that long
MAX_OFFSET = 2_147_483_647


def _page_query() -> dict[Any, Any]:
    """page_query() with an upper bound on ``offset`` (a huge one was a 500)."""
    query = page_query()
    query[vol.Optional("offset", default=0)] = vol.All(
        vol.Coerce(int), vol.Range(min=0, max=MAX_OFFSET)
    )
    return query


#: minute counts are 32-bit integer columns (PostgreSQL ``integer``)
MAX_MINUTES = 2_147_483_647


def _iso(value: Any) -> Any:
    if not isinstance(value, str):
        raise vol.Invalid("must be an ISO-8601 date or date-time string")
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):  # OverflowError: beyond year 9999 once in UTC
        raise vol.Invalid("must be an ISO-8601 date or date-time") from None


def _minutes(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise vol.Invalid("expected an integer")
    if not 0 <= value <= MAX_MINUTES:
        raise vol.Invalid(f"must be between 0 and {MAX_MINUTES}")
    return value


def _one_of(values: tuple[str, ...]) -> vol.In:
    return vol.In(values, msg=f"must be one of: {', '.join(values)}")


_EDITABLE: dict[Any, Any] = {
    vol.Optional("subtitle"): nullable(text(200)),
    vol.Optional("description"): nullable(text(2000)),
    vol.Optional("priority"): _one_of(PRIORITIES),
    vol.Optional("printer_id"): nullable(text(64, 1)),
    vol.Optional("estimated_time_minutes"): nullable(_minutes),
    vol.Optional("due_date"): nullable(_iso),
    vol.Optional("metadata"): nullable(dict),
}
CREATE = {
    vol.Required("title"): text(200, 1),
    vol.Required("task_type"): _one_of(TASK_TYPES),
    vol.Optional("assigned_to"): nullable(text(100, 1)),
    vol.Optional("apply_default_assignee", default=True): bool,
    **_EDITABLE,
}
PATCH = {vol.Optional("title"): text(200, 1), **_EDITABLE}
NOT_FOUND = ("TASK_NOT_FOUND",)


@routes.get(
    "/worklist",
    scope="read",
    summary="List tasks (high priority first, then most recent)",
    response=[TASK_SCHEMA],
    query={
        vol.Optional("status"): _one_of(STATUSES),
        vol.Optional("task_type"): _one_of(TASK_TYPES),
        vol.Optional("priority"): _one_of(PRIORITIES),
        vol.Optional("printer_id"): text(64, 1),
        **_page_query(),
    },
    paginated=True,
)
async def list_tasks(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    rows = await WorklistService(ctx.farm).list(
        status=q.get("status"),
        task_type=q.get("task_type"),
        priority=q.get("priority"),
        printer_id=q.get("printer_id"),
        limit=q["limit"],
        offset=q["offset"],
    )
    return paged(rows, q["limit"], q["offset"])


@routes.get(
    "/worklist/stats",
    scope="read",
    summary="Task counts by status and type, overdue",
    response=TASK_STATS,
)
async def worklist_stats(ctx: Ctx) -> web.StreamResponse:
    """`by_type` counts only open tasks (not completed/cancelled); `overdue` = open tasks
    whose `due_date` has passed."""
    return ok(await WorklistService(ctx.farm).stats())


@routes.get(
    "/worklist/{id}", scope="read", summary="Get a task", errors=NOT_FOUND, response=TASK_SCHEMA
)
async def get_task(ctx: Ctx) -> web.StreamResponse:
    return ok(await WorklistService(ctx.farm).get(ctx.params["id"]))


@routes.post(
    "/worklist",
    scope="write",
    summary="Create a task",
    body=CREATE,
    status=201,
    errors=("PRINTER_NOT_FOUND",),
    response=TASK_SCHEMA,
)
async def create_task(ctx: Ctx) -> web.StreamResponse:
    """`metadata` is stored (e.g. `{"filament_type","color","color_hex"}` for a filament change,
    applied to the printer on completion) but never returned; neither is `assigned_to`."""
    return created(await WorklistService(ctx.farm).create(ctx.body))


@routes.patch(
    "/worklist/{id}",
    scope="write",
    summary="Update a task",
    body=PATCH,
    errors=(*NOT_FOUND, "PRINTER_NOT_FOUND"),
    response=TASK_SCHEMA,
)
async def update_task(ctx: Ctx) -> web.StreamResponse:
    return ok(await WorklistService(ctx.farm).update(ctx.params["id"], ctx.body))


@routes.delete(
    "/worklist/{id}",
    scope="write",
    summary="Delete a task",
    errors=NOT_FOUND,
    response={vol.Required("id"): str, vol.Required("deleted"): bool},
)
async def delete_task(ctx: Ctx) -> web.StreamResponse:
    return ok(await WorklistService(ctx.farm).delete(ctx.params["id"]))


@routes.put(
    "/worklist/{id}/status",
    scope="write",
    summary="Set a task's status",
    body={vol.Required("status"): _one_of(STATUSES)},
    errors=(*NOT_FOUND, "PRINTER_PRINTING"),
    response=TASK_SCHEMA,
)
async def set_task_status(ctx: Ctx) -> web.StreamResponse:
    """→ in_progress stamps `started_at`; → completed/cancelled stamps `completed_at` and
    `actual_time_minutes`. Printer side effects are the same as start/complete."""
    return ok(await WorklistService(ctx.farm).set_status(ctx.params["id"], ctx.body["status"]))


@routes.put(
    "/worklist/{id}/assign",
    scope="write",
    summary="Assign or unassign a task",
    body={vol.Required("assigned_to"): nullable(text(100, 1))},
    errors=NOT_FOUND,
    response=TASK_SCHEMA,
)
async def assign_task(ctx: Ctx) -> web.StreamResponse:
    """The assignee is stored but never returned; `null` unassigns."""
    return ok(await WorklistService(ctx.farm).assign(ctx.params["id"], ctx.body["assigned_to"]))


@routes.post(
    "/worklist/{id}/start",
    scope="write",
    summary="Start a task",
    errors=(*NOT_FOUND, "INVALID_STATE", "PRINTER_PRINTING"),
    response=TASK_SCHEMA,
)
async def start_task(ctx: Ctx) -> web.StreamResponse:
    """A maintenance task also puts its printer into maintenance."""
    return ok(await WorklistService(ctx.farm).start(ctx.params["id"]))


@routes.post(
    "/worklist/{id}/complete",
    scope="write",
    summary="Complete a task",
    errors=(*NOT_FOUND, "INVALID_STATE"),
    response=TASK_SCHEMA,
)
async def complete_task(ctx: Ctx) -> web.StreamResponse:
    """Maintenance: releases the printer and stamps `last_maintenance_date`. Filament change:
    sets the printer's current filament from the task's metadata."""
    return ok(await WorklistService(ctx.farm).complete(ctx.params["id"]))
