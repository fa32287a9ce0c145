"""Webhooks: signed HTTP POSTs of domain events, with retries and a delivery log."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ...events.webhooks import (
    DELIVERY_SCHEMA,
    DELIVERY_STATUSES,
    TEST_DELIVERY_SCHEMA,
    WEBHOOK_CREATED_SCHEMA,
    WEBHOOK_SCHEMA,
    WebhookService,
)
from ..framework import Ctx, RouteTable, created, ok, page_query, paged, text

routes = RouteTable(
    "Webhooks",
    "Signed HTTP POSTs of domain events. Scope `write` for every call (webhooks hold secrets).",
)

_URL = text(2000, 1)
_EVENTS = vol.All([text(64, 1)], vol.Length(min=1, max=50))
_SECRET = text(200, 16)

_DELIVERY_DOC = """Each event matching `events` is POSTed to `url` as
`{"id": <event id>, "type": "job.completed", "time": "<ISO-8601>", "data": {…}}` with headers
`X-APF-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`,
`X-APF-Event-Id`, `X-APF-Event-Type` and `User-Agent: APF-Webhooks/<version>`.
Any 2xx answer is a success. Failures are retried with exponential backoff (the webhook's
later events wait, so order is kept); deliveries survive a restart and are at least once, so
de-duplicate on `X-APF-Event-Id`. After 10 consecutive failures the webhook is disabled
(`enabled: false`, `disabled_reason`). Only http/https; link-local and cloud-metadata
addresses are refused (`WEBHOOK_URL_BLOCKED`); LAN and loopback targets are allowed."""


@routes.get(
    "/webhooks",
    scope="write",
    summary="List webhooks",
    response=[WEBHOOK_SCHEMA],
    query=page_query(),
    paginated=True,
    description="The secret is never returned.",
)
async def list_webhooks(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    return paged(
        await WebhookService(ctx.farm).list_all(limit=q["limit"], offset=q["offset"]),
        q["limit"],
        q["offset"],
    )


@routes.post(
    "/webhooks",
    scope="write",
    summary="Create a webhook",
    response=WEBHOOK_CREATED_SCHEMA,
    status=201,
    body={
        vol.Required("url"): _URL,
        vol.Optional("events", default=["*"]): _EVENTS,
        vol.Optional("secret"): _SECRET,
        vol.Optional("enabled", default=True): bool,
    },
    errors=("WEBHOOK_URL_BLOCKED",),
    description="`secret` (16 to 200 characters) is generated when omitted and returned in this "
    "response only; a secret you send is never echoed. The webhook receives events emitted "
    "from now on.\n\n" + _DELIVERY_DOC,
)
async def create_webhook(ctx: Ctx) -> web.StreamResponse:
    return created(await WebhookService(ctx.farm).create(ctx.body))


@routes.get(
    "/webhooks/{id}",
    scope="write",
    summary="Get a webhook",
    errors=("WEBHOOK_NOT_FOUND",),
    response=WEBHOOK_SCHEMA,
)
async def get_webhook(ctx: Ctx) -> web.StreamResponse:
    return ok(await WebhookService(ctx.farm).get(ctx.params["id"]))


@routes.patch(
    "/webhooks/{id}",
    scope="write",
    summary="Update a webhook",
    response=WEBHOOK_SCHEMA,
    body={
        vol.Optional("url"): _URL,
        vol.Optional("events"): _EVENTS,
        vol.Optional("secret"): _SECRET,
        vol.Optional("enabled"): bool,
    },
    errors=("WEBHOOK_NOT_FOUND", "WEBHOOK_URL_BLOCKED"),
    description="Disabling gives up its pending deliveries; enabling clears the failure count "
    "and delivers events emitted from then on.",
)
async def update_webhook(ctx: Ctx) -> web.StreamResponse:
    return ok(await WebhookService(ctx.farm).update(ctx.params["id"], ctx.body))


@routes.delete(
    "/webhooks/{id}",
    scope="write",
    summary="Delete a webhook",
    errors=("WEBHOOK_NOT_FOUND",),
    response={vol.Required("id"): str, vol.Required("deleted"): bool},
)
async def delete_webhook(ctx: Ctx) -> web.StreamResponse:
    return ok(await WebhookService(ctx.farm).delete(ctx.params["id"]))


@routes.post(
    "/webhooks/{id}/test",
    scope="write",
    summary="Send a test delivery",
    response=TEST_DELIVERY_SCHEMA,
    errors=("WEBHOOK_NOT_FOUND",),
    description="POSTs a `webhook.test` event with id 0 now and returns "
    "`{delivered, status_code, error, duration_ms}`. It is not recorded and does not count "
    "as a failure.",
)
async def test_webhook(ctx: Ctx) -> web.StreamResponse:
    return ok(await WebhookService(ctx.farm).test(ctx.params["id"]))


@routes.get(
    "/webhooks/{id}/deliveries",
    scope="write",
    summary="Delivery log of a webhook (newest event first)",
    response=[DELIVERY_SCHEMA],
    query={vol.Optional("status"): vol.In(DELIVERY_STATUSES), **page_query()},
    paginated=True,
    errors=("WEBHOOK_NOT_FOUND",),
    description="One row per event: `status` (pending, delivered, failed), `attempts`, "
    "`last_status_code`, `last_error`, `next_attempt_at`, `delivered_at`.",
)
async def webhook_deliveries(ctx: Ctx) -> web.StreamResponse:
    q = ctx.query
    rows = await WebhookService(ctx.farm).deliveries(
        ctx.params["id"], status=q.get("status"), limit=q["limit"], offset=q["offset"]
    )
    return paged(rows, q["limit"], q["offset"])
