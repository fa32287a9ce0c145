"""Analytics (reference 3.12): read-only aggregates over UTC date ranges.

`from`/`to` are ISO dates (a date-time is cut to its UTC date); the default is the
last 30 days up to today. Cost, margin and profit are never reported.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import voluptuous as vol
from aiohttp import web

from ...errors import ValidationFailed
from ...services import analytics_schemas as schemas
from ...services.analytics import MAX_DAYS, AnalyticsService, DateRange
from ...timeutil import parse_iso
from ..framework import Ctx, RouteTable, ok, text

routes = RouteTable("Analytics", "Production, utilisation, failures, inventory and revenue.")


#: days a report may touch (keeps day arithmetic and SQL bounds inside the calendar)
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)


def _day(value: Any) -> date:
    try:
        day = parse_iso(str(value)).date()
    except (ValueError, OverflowError):
        raise vol.Invalid("must be an ISO-8601 date (YYYY-MM-DD)") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise vol.Invalid(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return day


RANGE: dict[Any, Any] = {vol.Optional("from"): _day, vol.Optional("to"): _day}


def _span(ctx: Ctx) -> DateRange:
    span = DateRange.build(ctx.query.get("from"), ctx.query.get("to"))
    if span.first > span.last:
        raise ValidationFailed(
            "Invalid query: from: must not be after to",
            extra={"details": [{"field": "from", "message": "must not be after to"}]},
        )
    if (span.last - span.first).days >= MAX_DAYS:
        raise ValidationFailed(
            f"Invalid query: from: the range may span at most {MAX_DAYS} days",
            extra={"details": [{"field": "from", "message": f"range over {MAX_DAYS} days"}]},
        )
    return span


@routes.get(
    "/analytics/overview",
    scope="read",
    summary="Live farm overview",
    response=schemas.OVERVIEW_SCHEMA,
)
async def analytics_overview(ctx: Ctx) -> web.StreamResponse:
    """Printers by status, queued/active jobs, today's completions and failures, open
    worklist tasks, hubs online, and low-stock alerts (SKUs, filament, components)."""
    return ok(await AnalyticsService(ctx.farm).overview())


@routes.get(
    "/analytics/production",
    scope="read",
    summary="Production over a date range",
    query={
        **RANGE,
        vol.Optional("printer_id"): text(64, 1),
        vol.Optional("product_id"): text(64, 1),
    },
    response=schemas.PRODUCTION_SCHEMA,
)
async def analytics_production(ctx: Ctx) -> web.StreamResponse:
    """Jobs by the UTC day they finished. `revenue_cents` is `null` when `printer_id` or
    `product_id` narrows the report (revenue cannot be attributed to a printer)."""
    q = ctx.query
    return ok(
        await AnalyticsService(ctx.farm).production(
            _span(ctx), printer_id=q.get("printer_id"), product_id=q.get("product_id")
        )
    )


@routes.get(
    "/analytics/printers",
    scope="read",
    summary="Per-printer utilisation",
    query=RANGE,
    response=schemas.PRINTERS_SCHEMA,
)
async def analytics_printers(ctx: Ctx) -> web.StreamResponse:
    """Per printer: jobs finished in the range, success rate, failures, print hours and
    utilisation (print time / range length), plus fleet averages."""
    return ok(await AnalyticsService(ctx.farm).printers(_span(ctx)))


@routes.get(
    "/analytics/failures",
    scope="read",
    summary="Failure analysis",
    query={**RANGE, vol.Optional("printer_id"): text(64, 1)},
    response=schemas.FAILURES_SCHEMA,
)
async def analytics_failures(ctx: Ctx) -> web.StreamResponse:
    """Failed jobs by reason, by printer, per day, and the 20 most recent."""
    return ok(
        await AnalyticsService(ctx.farm).failures(
            _span(ctx), printer_id=ctx.query.get("printer_id")
        )
    )


@routes.get(
    "/analytics/inventory",
    scope="read",
    summary="Stock and material usage",
    query=RANGE,
    response=schemas.INVENTORY_SCHEMA,
)
async def analytics_inventory(ctx: Ctx) -> web.StreamResponse:
    """Low-stock SKUs (top 20 by deficit), filament spools, and filament grams used by
    finished jobs per material and per day."""
    return ok(await AnalyticsService(ctx.farm).inventory(_span(ctx)))


@routes.get(
    "/analytics/revenue",
    scope="read",
    summary="Order revenue",
    query=RANGE,
    response=schemas.REVENUE_SCHEMA,
)
async def analytics_revenue(ctx: Ctx) -> web.StreamResponse:
    """Order totals (integer cents) by order date, per platform and per day; cancelled and
    refunded orders are excluded."""
    return ok(await AnalyticsService(ctx.farm).revenue(_span(ctx)))
