"""The event stream (WebSocket) and the event log for pollers."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from ...events.patterns import TypeFilter, parse_patterns
from ...events.store import fetch_events, max_event_id
from ...events.websocket import handle_stream
from ...services.keys import KeyService
from ...services.row_schema import TIMESTAMP
from ..framework import Ctx, RouteTable, ok, text

routes = RouteTable(
    "Events",
    "Domain events: a WebSocket stream with replay, and an event log for pollers.",
)

EVENT_TYPES = (
    "job.created",
    "job.started",
    "job.progress",
    "job.paused",
    "job.resumed",
    "job.completed",
    "job.failed",
    "job.cancelled",
    "printer.online",
    "printer.offline",
    "printer.status",
    "printer.error",
    "printer.bed_clear_required",
    "printer.bed_cleared",
    "printer.created",
    "printer.updated",
    "printer.deleted",
    "printer.idle",
    "inventory.low_stock",
    "inventory.adjusted",
    "material.low",
    "material.empty",
    "order.created",
    "order.fulfilled",
    "assembly.completed",
    "assembly.created",
    "order.updated",
    "product.created",
    "sku.created",
    "file.created",
    "file.version_added",
    "file.version_current",
    "file.deleted",
    "job.deleted",
    "hub.created",
    "hub.online",
    "hub.offline",
    "hub.token_rotated",
    "hub.deleted",
    "dispatch.settings",
)

#: ``Event.as_dict()``: ``data`` depends on ``type`` (docs/events.md)
EVENT = {
    vol.Required("id"): int,
    vol.Required("type"): str,
    vol.Required("time"): TIMESTAMP,
    vol.Required("data"): dict,
}


def _patterns(value: Any) -> list[str]:
    try:
        return parse_patterns(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from None


_WS_DESCRIPTION = (
    """A WebSocket of domain events (JSON text frames).

Authenticate with `Authorization: Bearer <key>` (scope `read`) or, without the header, send
`{"kind":"auth","api_key":"apf_live_…","types":[…],"last_event_id":N}` as the first message
within 10 s.

Server → client: `{"kind":"welcome","last_event_id":N}` once, then
`{"kind":"event","id":123,"type":"job.started","time":"<ISO-8601>","data":{…}}`;
`{"kind":"pong"}`; `{"kind":"error","code":"…","error":"…"}` followed by a close
(codes UNAUTHORIZED, TOKEN_INVALID, TOKEN_REVOKED, TOKEN_EXPIRED, INSUFFICIENT_SCOPE,
VALIDATION_ERROR, SLOW_CONSUMER, STREAM_UNAVAILABLE, TOO_MANY_STREAMS).

The key is re-checked every 2 s: a key revoked or expired while the stream is open gets
`TOKEN_REVOKED`/`TOKEN_EXPIRED` and close code 1008. At most 20 streams per key
(`TOO_MANY_STREAMS`, close code 1013) and 500 in total, unauthenticated sockets included
(beyond that the handshake gets HTTP 503 `TOO_MANY_STREAMS`). A `last_event_id` newer than
the newest event (e.g. after restoring an older backup) gets a welcome with
`warning: {code: "LAST_EVENT_ID_AHEAD", message}` and the stream starts from the newest event.

Client → server: `{"kind":"ping"}`, `{"kind":"subscribe","types":["job.*"]}` (replaces the filter).

`types`: comma-separated patterns (`job.started`, `job.*`, `*`). With `last_event_id`, stored
events with a larger id are sent first (in id order, filtered), then live ones, with no gap and
no duplicate. A client that does not read fast enough is dropped with `SLOW_CONSUMER`.

Event types: """
    + ", ".join(f"`{t}`" for t in EVENT_TYPES)
    + "."
)


@routes.get(
    "/events/ws",
    scope="read",
    auth=False,
    websocket=True,
    summary="Event stream (WebSocket)",
    query={
        vol.Optional("types"): vol.All(str, _patterns, lambda v: ",".join(v)),
        vol.Optional("last_event_id"): vol.All(vol.Coerce(int), vol.Range(min=0, max=2**63 - 1)),
    },
    description=_WS_DESCRIPTION,
)
async def event_stream(ctx: Ctx) -> web.StreamResponse:
    keys = ctx.farm.event_keys or KeyService(ctx.farm.db)
    return await handle_stream(ctx.request, ctx.farm.event_hub, keys)


@routes.get(
    "/events",
    scope="read",
    summary="Event log (for pollers)",
    response=[EVENT],
    query={
        vol.Optional("after", default=0): vol.All(vol.Coerce(int), vol.Range(min=0, max=2**63 - 1)),
        vol.Optional("type"): vol.All(text(2000, 1), _patterns),
        vol.Optional("limit", default=100): vol.All(vol.Coerce(int), vol.Range(min=1, max=1000)),
    },
    description="Events with `id > after` in id order. `type`: comma-separated patterns "
    "(`job.*`, `printer.online`, `*`). `meta.last_event_id` is the newest id stored; poll again "
    "with `after` = the last id you received. Telemetry (`printer.status`, `job.progress`) "
    "expires after the retention period (default 24 h).",
)
async def event_log(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    types = TypeFilter(q["type"]) if q.get("type") else None
    async with ctx.farm.db.read() as conn:
        last_id = await max_event_id(conn)
        rows = await fetch_events(
            conn, after=q["after"], limit=q["limit"], types=types, upto=last_id
        )
    return ok(
        [e.as_dict() for e in rows],
        meta={
            "limit": q["limit"],
            "after": q["after"],
            "count": len(rows),
            "last_event_id": last_id,
        },
    )
