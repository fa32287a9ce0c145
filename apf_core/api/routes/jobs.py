"""Print jobs (reference 3.2)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from ...lifecycle.views import JOB_DETAIL_SCHEMA, JOB_SCHEMA
from ...services.job_admin import JobAdmin
from ...services.job_reads import JOB_STATS
from ...services.jobs import JOB_STATUSES, JobService
from ...timeutil import parse_iso, utcnow
from ..framework import (
    Ctx,
    RenderedBodies,
    RouteTable,
    integer,
    nullable,
    ok,
    page_query,
    paged,
    text,
)

routes = RouteTable("Jobs", "The print queue and job lifecycle.")


def _iso(value: Any) -> Any:
    try:
        return parse_iso(str(value))
    except ValueError:
        raise vol.Invalid("must be an ISO-8601 date or date-time") from None


#: what a job pins for its start on a Bambu printer; anything left out is derived from the
#: file (first sliced plate) and the printer's loaded trays (docs/printers.md)
START_OPTIONS = vol.Schema(
    {
        vol.Optional("plate"): nullable(integer(1, 9999)),
        vol.Optional("use_ams"): nullable(bool),
        vol.Optional("ams_mapping"): nullable(vol.All([integer(-1, 255)], vol.Length(1, 64))),
    }
)

_JOB_FIELDS: dict[Any, Any] = {
    vol.Optional("color"): nullable(text(50)),
    vol.Optional("filament_type"): nullable(text(50)),
    vol.Optional("material_type"): nullable(text(50)),
    vol.Optional("number_of_units"): integer(1, 10000),
    vol.Optional("quantity_per_print"): integer(1, 10000),
    vol.Optional("requires_assembly"): bool,
    vol.Optional("priority"): integer(-100, 100),
    vol.Optional("required_tags"): [text(50, 1)],
    vol.Optional("required_printer_model"): nullable(text(120)),
    vol.Optional("start_options"): nullable(START_OPTIONS),
}


@routes.get(
    "/jobs",
    scope="read",
    summary="List jobs (most recent first)",
    response=[JOB_SCHEMA],
    query={vol.Optional("status"): vol.In(JOB_STATUSES), **page_query()},
    paginated=True,
)
async def list_jobs(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    status, limit, offset = q.get("status"), q["limit"], q["offset"]
    rows = await JobService(ctx.farm).list(status=status, limit=limit, offset=offset)
    return _LIST_PAGES.paged((status, limit, offset), rows, limit, offset)


#: dashboards poll the same pages: an unchanged page is not serialised again
_LIST_PAGES = RenderedBodies()


@routes.post(
    "/jobs",
    scope="write",
    summary="Enqueue a job",
    response=JOB_SCHEMA,
    status=201,
    body={
        vol.Required("print_file_id"): text(64, 1),
        vol.Optional("printer_id"): nullable(text(64, 1)),
        vol.Optional("product_sku_id"): nullable(text(64, 1)),
        **_JOB_FIELDS,
    },
    errors=(
        "FILE_NOT_FOUND",
        "PRINTER_NOT_FOUND",
        "SKU_NOT_FOUND",
        "PRINTER_MODEL_MISMATCH",
        "INVALID_PLATE",
        "FILE_NOT_PRINTABLE",
    ),
    description="Only a sliced file can be queued: G-code, binary G-code (`.bgcode`) or a 3MF "
    "with plate G-code (`.gcode.3mf`); a model or unsliced project is `400 FILE_NOT_PRINTABLE`. "
    "A `required_printer_model` no registered printer has is accepted with "
    "`meta.warnings[]` (`{code: UNKNOWN_PRINTER_MODEL, field, message}`).",
)
async def create_job(ctx: Ctx) -> web.StreamResponse:
    service = JobService(ctx.farm)
    job = await service.create(ctx.body)
    return await _with_warnings(service, job, ctx.body, status=201)


async def _with_warnings(
    service: JobService, job: dict[str, Any], body: dict[str, Any], *, status: int = 200
) -> web.StreamResponse:
    """The job, with ``meta.warnings`` when the request asked for something that cannot
    dispatch yet (a printer model the farm does not have)."""
    warnings = await service.model_warnings(body.get("required_printer_model"))
    return ok(job, meta={"warnings": warnings} if warnings else None, status=status)


@routes.get(
    "/jobs/export",
    scope="read",
    summary="Export jobs as CSV",
    query={
        vol.Optional("status"): vol.In(JOB_STATUSES),
        vol.Optional("from"): _iso,
        vol.Optional("to"): _iso,
    },
    response_kind="csv",
    description="Every job matching the filters (the `status` filter of `GET /jobs`, and "
    "`from`/`to` on `created_at`), newest first, as `text/csv` with a header row of the job "
    "fields. Lists are joined with `;`; empty cells are null. Streamed, so any history size "
    "works.",
)
async def export_jobs(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    rows = JobAdmin(ctx.farm).export_csv(
        status=q.get("status"), start=q.get("from"), end=q.get("to")
    )
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="apf-jobs-{stamp}.csv"',
        }
    )
    await response.prepare(ctx.request)
    async for chunk in rows:
        await response.write(chunk)
    await response.write_eof()
    return response


@routes.get("/jobs/stats", scope="read", summary="Job counts by state", response=JOB_STATS)
async def job_stats(ctx: Ctx) -> web.StreamResponse:
    return ok(await JobService(ctx.farm).stats())


@routes.get(
    "/jobs/history",
    scope="read",
    summary="Finished jobs by completion time",
    response=[JOB_SCHEMA],
    query={vol.Optional("from"): _iso, vol.Optional("to"): _iso, **page_query()},
    paginated=True,
)
async def job_history(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    rows = await JobService(ctx.farm).history(
        start=q.get("from"), end=q.get("to"), limit=q["limit"], offset=q["offset"]
    )
    return paged(rows, q["limit"], q["offset"])


@routes.get(
    "/jobs/{id}",
    scope="read",
    summary="Get a job",
    errors=("JOB_NOT_FOUND",),
    response=JOB_DETAIL_SCHEMA,
)
async def get_job(ctx: Ctx) -> web.StreamResponse:
    return ok(await JobService(ctx.farm).get(ctx.params["id"]))


@routes.delete(
    "/jobs/{id}",
    scope="write",
    summary="Delete a queued job",
    response={vol.Required("id"): str, vol.Required("deleted"): bool},
    errors=("JOB_NOT_FOUND", "INVALID_STATE"),
    description="Only a job still `queued` (never sent to a printer) can be deleted; it is "
    "gone from lists and history (event `job.deleted`). Any other state is `409 INVALID_STATE`: "
    "cancel a started job instead, which keeps its history.",
)
async def delete_job(ctx: Ctx) -> web.StreamResponse:
    return ok(await JobAdmin(ctx.farm).delete_queued(ctx.params["id"]))


@routes.patch(
    "/jobs/{id}",
    scope="write",
    summary="Update a job that has not finished",
    response=JOB_SCHEMA,
    body={vol.Optional("printer_id"): nullable(text(64, 1)), **_JOB_FIELDS},
    errors=("JOB_TERMINAL", "INVALID_STATE", "PRINTER_NOT_FOUND", "INVALID_PLATE"),
)
async def update_job(ctx: Ctx) -> web.StreamResponse:
    service = JobService(ctx.farm)
    job = await service.update(ctx.params["id"], ctx.body)
    return await _with_warnings(service, job, ctx.body)


_START_ERRORS = (
    "NO_PRINTER_ASSIGNED",
    "NO_HUB_ASSIGNED",
    "PRINTER_UNAVAILABLE",
    "PRINTER_BUSY",
    "PRINTER_MODEL_MISMATCH",
    "PRINTER_NOT_FOUND",
    "FILE_NOT_FOUND",
    "INVALID_STATE",
    "JOB_STATE_CHANGED",
    "HUB_OFFLINE",
    "HUB_COMMAND_FAILED",
    "AMS_MAPPING_UNSATISFIABLE",
    "INVALID_PLATE",
)


@routes.post(
    "/jobs/{id}/start",
    scope="control",
    summary="Start a queued job",
    errors=_START_ERRORS,
    response=JOB_SCHEMA,
)
async def start_job(ctx: Ctx) -> web.StreamResponse:
    """Streams the file to the printer; `queued → processing → printing`, reverted on failure.
    A job that is not queued is `409 INVALID_STATE`; `409 JOB_STATE_CHANGED` means another
    caller changed it at the same moment; a printer on another job is `409 PRINTER_BUSY`
    naming that job (`current_job_id`); maintenance, a bed to clear or an inactive printer is
    `400 PRINTER_UNAVAILABLE`."""
    return ok(await JobService(ctx.farm).start(ctx.params["id"]))


@routes.post(
    "/jobs/{id}/pause",
    scope="control",
    summary="Pause a printing job",
    response=JOB_SCHEMA,
    errors=("INVALID_STATE", "HUB_OFFLINE", "HUB_COMMAND_FAILED"),
)
async def pause_job(ctx: Ctx) -> web.StreamResponse:
    return ok(await JobService(ctx.farm).pause(ctx.params["id"]))


@routes.post(
    "/jobs/{id}/resume",
    scope="control",
    summary="Resume a paused job",
    response=JOB_SCHEMA,
    errors=("INVALID_STATE", "HUB_OFFLINE", "HUB_COMMAND_FAILED"),
)
async def resume_job(ctx: Ctx) -> web.StreamResponse:
    return ok(await JobService(ctx.farm).resume(ctx.params["id"]))


@routes.post(
    "/jobs/{id}/stop",
    scope="control",
    summary="Stop a running job (waits for ACK)",
    response=JOB_SCHEMA,
    errors=("INVALID_STATE", "HUB_OFFLINE", "HUB_COMMAND_FAILED"),
)
async def stop_job(ctx: Ctx) -> web.StreamResponse:
    return ok(await JobService(ctx.farm).stop(ctx.params["id"]))


@routes.post(
    "/jobs/{id}/cancel",
    scope="control",
    summary="Cancel a job",
    errors=("INVALID_STATE",),
    response=JOB_SCHEMA,
)
async def cancel_job(ctx: Ctx) -> web.StreamResponse:
    """Marks it cancelled; a running print also gets a fire-and-forget stop."""
    return ok(await JobService(ctx.farm).cancel(ctx.params["id"]))


@routes.post(
    "/jobs/{id}/complete",
    scope="write",
    summary="Mark a job completed",
    response=JOB_SCHEMA,
    body={
        vol.Optional("actual_print_time_minutes"): nullable(integer(0)),
        vol.Optional("failure_reason"): nullable(text(2000)),
    },
    errors=("INVALID_STATE",),
)
async def complete_job(ctx: Ctx) -> web.StreamResponse:
    body = ctx.body
    return ok(
        await JobService(ctx.farm).complete(
            ctx.params["id"],
            actual_minutes=body.get("actual_print_time_minutes"),
            failure_reason=body.get("failure_reason"),
        )
    )


@routes.post(
    "/jobs/{id}/retry",
    scope="write",
    summary="Re-queue a failed job",
    errors=("INVALID_STATE",),
    response=JOB_SCHEMA,
)
async def retry_job(ctx: Ctx) -> web.StreamResponse:
    return ok(await JobService(ctx.farm).retry(ctx.params["id"]))
