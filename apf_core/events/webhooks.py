"""Webhook subscriptions: create, list, update, delete, test, delivery log."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import delete, func, insert, select, update

from ..errors import BadRequest, ValidationFailed
from ..net.ssrf import BlockedAddress, check_url
from ..services.common import fetch_one, fetch_page, project
from ..services.row_schema import row_schema
from ..storage.tables.webhooks import webhook_deliveries, webhooks
from ..timeutil import new_id, utcnow
from .patterns import parse_patterns
from .settings import EventSettings
from .signatures import new_secret
from .store import max_event_id

if TYPE_CHECKING:
    from ..farm import Farm

_LOGGER = logging.getLogger(__name__)

FIELDS = (
    "id",
    "url",
    "events",
    "enabled",
    "created_at",
    "updated_at",
    "disabled_reason",
    "failure_count",
)
DELIVERY_FIELDS = (
    "webhook_id",
    "event_id",
    "event_type",
    "status",
    "attempts",
    "last_status_code",
    "last_error",
    "duration_ms",
    "next_attempt_at",
    "last_attempt_at",
    "delivered_at",
    "created_at",
)
DELIVERY_STATUSES = ("pending", "delivered", "failed")
#: :func:`webhook_view`
WEBHOOK_SCHEMA = row_schema(webhooks, FIELDS, {"events": [str]})
#: a create without a chosen ``secret``: the generated one, shown once
WEBHOOK_CREATED_SCHEMA = {**WEBHOOK_SCHEMA, vol.Optional("secret"): str}
DELIVERY_SCHEMA = row_schema(
    webhook_deliveries, DELIVERY_FIELDS, {"status": vol.In(DELIVERY_STATUSES)}
)
#: ``DeliveryWorker.send_test``
TEST_DELIVERY_SCHEMA = {
    vol.Required("delivered"): bool,
    vol.Required("status_code"): vol.Any(None, int),
    vol.Required("error"): vol.Any(None, str),
    vol.Required("duration_ms"): int,
}


def webhook_view(row: dict[str, Any]) -> dict[str, Any]:
    return project(row, FIELDS)


class WebhookService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db
        self.settings: EventSettings = farm.event_settings or EventSettings.from_env()
        self.policy = self.settings.webhook_policy()

    async def _check_url(self, url: str) -> None:
        try:
            warning = await check_url(url, self.policy)
        except BlockedAddress as err:
            raise BadRequest(
                f"Webhook URL is not allowed: {err}", code="WEBHOOK_URL_BLOCKED"
            ) from None
        except ValueError as err:
            raise ValidationFailed(
                f"Invalid body: url: {err}",
                extra={"details": [{"field": "url", "message": str(err)}]},
            ) from None
        if warning:
            _LOGGER.info("webhook URL accepted without resolving: %s", warning)

    @staticmethod
    def _patterns(value: Any) -> list[str]:
        try:
            return parse_patterns(value)
        except ValueError as err:
            raise ValidationFailed(
                f"Invalid body: events: {err}",
                extra={"details": [{"field": "events", "message": str(err)}]},
            ) from None

    async def list_all(self, *, limit: int, offset: int) -> list[dict[str, Any]]:
        query = select(webhooks).order_by(webhooks.c.created_at, webhooks.c.id)
        async with self.db.read() as conn:
            return [webhook_view(r) for r in await fetch_page(conn, query, limit, offset)]

    async def get(self, webhook_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            return webhook_view(await self._row(conn, webhook_id))

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        await self._check_url(body["url"])
        patterns = self._patterns(body.get("events"))
        chosen = body.get("secret")
        secret = chosen or new_secret()
        now = utcnow()
        async with self.db.begin() as conn:
            row = {
                "id": new_id(),
                "url": body["url"],
                "events": patterns,
                "secret": secret,
                "enabled": body.get("enabled", True),
                "disabled_reason": None,
                "failure_count": 0,
                # a new webhook receives events from now on, not the history
                "cursor": await max_event_id(conn),
                "created_at": now,
                "updated_at": now,
            }
            await conn.execute(insert(webhooks).values(**row))
        self._wake()
        # a generated secret is shown once; a secret the client chose is never echoed
        return webhook_view(row) if chosen else {**webhook_view(row), "secret": secret}

    async def update(self, webhook_id: str, body: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "url" in body:
            await self._check_url(body["url"])
            values["url"] = body["url"]
        if "events" in body:
            values["events"] = self._patterns(body["events"])
        if body.get("secret"):
            values["secret"] = body["secret"]
        async with self.db.begin() as conn:
            row = await self._row(conn, webhook_id, for_update=True)
            if "enabled" in body and body["enabled"] != row["enabled"]:
                values["enabled"] = body["enabled"]
                if body["enabled"]:
                    # re-enabled: start from now, clear the failure state
                    values.update(
                        disabled_reason=None, failure_count=0, cursor=await max_event_id(conn)
                    )
                else:
                    values["disabled_reason"] = "Disabled by a user"
                    await fail_pending(conn, webhook_id, "webhook disabled by a user")
            if values:
                values["updated_at"] = utcnow()
                await conn.execute(
                    update(webhooks).where(webhooks.c.id == webhook_id).values(**values)
                )
            row = await self._row(conn, webhook_id)
        self._wake()
        return webhook_view(row)

    async def delete(self, webhook_id: str) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await self._row(conn, webhook_id, for_update=True)
            await conn.execute(
                delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
            )
            await conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
        return {"id": webhook_id, "deleted": True}

    async def test(self, webhook_id: str) -> dict[str, Any]:
        """Send a ``webhook.test`` event now (not recorded, does not count as a failure)."""
        async with self.db.read() as conn:
            row = await self._row(conn, webhook_id)
            last_id = await max_event_id(conn)
        worker = self.farm.webhook_worker
        if worker is None:
            from .delivery import WebhookWorker

            worker = WebhookWorker(self.farm, self.settings)
            try:
                return await worker.send_test(row, last_id)
            finally:
                await worker.close()
        return await worker.send_test(row, last_id)

    async def deliveries(
        self, webhook_id: str, *, status: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        query = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.event_id.desc())
        )
        if status:
            query = query.where(webhook_deliveries.c.status == status)
        async with self.db.read() as conn:
            await self._row(conn, webhook_id)
            return [
                project(r, DELIVERY_FIELDS) for r in await fetch_page(conn, query, limit, offset)
            ]

    async def count(self) -> int:
        async with self.db.read() as conn:
            return int(await conn.scalar(select(func.count()).select_from(webhooks)) or 0)

    async def _row(self, conn: Any, webhook_id: str, *, for_update: bool = False) -> dict[str, Any]:
        return await fetch_one(
            conn,
            webhooks,
            webhook_id,
            code="WEBHOOK_NOT_FOUND",
            label="Webhook",
            for_update=for_update,
        )

    def _wake(self) -> None:
        worker = self.farm.webhook_worker
        if worker is not None:
            worker.wake()


async def fail_pending(conn: Any, webhook_id: str, reason: str) -> None:
    """Give up the deliveries still waiting for a webhook that is being disabled."""
    await conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.webhook_id == webhook_id, webhook_deliveries.c.status == "pending"
        )
        .values(
            status="failed",
            last_error=func.coalesce(webhook_deliveries.c.last_error, reason),
            next_attempt_at=None,
        )
    )
