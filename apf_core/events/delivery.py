"""The webhook delivery worker: outbox → deliveries table → signed HTTP POSTs.

1. Fan-out: for every enabled webhook, outbox events after its ``cursor`` that
   match its patterns become ``pending`` rows in ``webhook_deliveries`` (one per
   (webhook, event), unique), and the cursor moves on, in one transaction.
2. Delivery: per webhook, pending rows are sent oldest first. A failure
   (non-2xx, timeout, refused address) schedules a retry with exponential
   backoff and holds that webhook's later deliveries, so order is kept and an
   outage costs one attempt per backoff step, not one per event. After
   ``webhook_max_failures`` consecutive failures the webhook is disabled.

All state is in the database, so a restart resumes where it stopped; a POST
interrupted by a stop is sent again (at least once; receivers de-duplicate on
``X-APF-Event-Id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import __version__
from ..aio import cancel_and_wait
from ..net.session import guarded_session
from ..net.ssrf import BlockedAddress, split_url
from ..storage.tables.spine import events
from ..storage.tables.webhooks import webhook_deliveries, webhooks
from ..timeutil import iso, utcnow
from .patterns import TypeFilter
from .settings import EventSettings
from .signatures import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, sign
from .store import max_event_id

if TYPE_CHECKING:
    from ..farm import Farm

_LOGGER = logging.getLogger(__name__)
USER_AGENT = f"APF-Webhooks/{__version__}"
FAN_OUT_BATCH = 2000
SEND_BATCH = 100
MAX_ERROR_LENGTH = 500
NO_RESPONSE = "No HTTP response (connection failed, timed out or closed)"


class WebhookWorker:
    def __init__(self, farm: Farm, settings: EventSettings) -> None:
        self.db = farm.db
        self.bus = farm.events
        self.settings = settings
        self.policy = settings.webhook_policy()
        self._session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Any = None
        self._limit = asyncio.Semaphore(max(1, settings.webhook_concurrency))

    # --- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        self._unsubscribe = self.bus.subscribe(lambda _event: self.wake())
        self._task = asyncio.create_task(self._run(), name="apf-webhooks")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await cancel_and_wait(self._task)
        self._task = None
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            delay = self.settings.poll_interval_seconds
            try:
                if await self._enabled_hooks():
                    await self.fan_out()
                    due_in = await self.deliver_due()
                    if due_in is not None:
                        delay = min(delay, max(0.0, due_in))
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("webhook worker round failed; retrying")
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._wake.wait()
            self._wake.clear()

    async def _enabled_hooks(self) -> int:
        """A cheap read first: most farms have no webhooks, and a write transaction
        per event would compete with the services for the SQLite write lock. Served
        from memory until this process writes ``webhooks`` (others: within 1 s)."""

        async def count() -> int:
            async with self.db.read() as conn:
                query = select(func.count()).select_from(webhooks).where(webhooks.c.enabled)
                return int(await conn.scalar(query) or 0)

        enabled: int = await self.db.cached(("webhooks.enabled",), ("webhooks",), count)
        return enabled

    # --- fan-out --------------------------------------------------------------
    async def fan_out(self) -> int:
        """Turn new outbox events into pending deliveries; returns how many."""
        created = 0
        async with self.db.read() as conn:
            top = await max_event_id(conn)
            behind = await conn.scalar(
                select(func.count())
                .select_from(webhooks)
                .where(webhooks.c.enabled, webhooks.c.cursor < top)
            )
        if not behind:
            return 0
        async with self.db.begin() as conn:
            query = select(webhooks.c.id, webhooks.c.events, webhooks.c.cursor).where(
                webhooks.c.enabled
            )
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            hooks = (await conn.execute(query)).all()
            if not hooks:
                return 0
            top = await max_event_id(conn)
            now = utcnow()
            for hook in hooks:
                if hook.cursor >= top:
                    continue
                rows = (
                    await conn.execute(
                        select(events.c.id, events.c.type)
                        .where(events.c.id > hook.cursor, events.c.id <= top)
                        .order_by(events.c.id)
                        .limit(FAN_OUT_BATCH)
                    )
                ).all()
                wanted = TypeFilter(hook.events or [])
                values = [
                    {
                        "webhook_id": hook.id,
                        "event_id": r.id,
                        "event_type": r.type,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for r in rows
                    if wanted(r.type)
                ]
                if values:
                    await conn.execute(_insert_ignore(conn), values)
                    created += len(values)
                cursor = rows[-1].id if len(rows) == FAN_OUT_BATCH else top
                await conn.execute(
                    update(webhooks).where(webhooks.c.id == hook.id).values(cursor=cursor)
                )
                if len(rows) == FAN_OUT_BATCH:
                    self.wake()  # more to do
        return created

    # --- delivery -------------------------------------------------------------
    async def deliver_due(self) -> float | None:
        """Send what is due; returns seconds until the next retry is due (or None)."""
        async with self.db.read() as conn:
            heads = (
                (
                    await conn.execute(
                        select(webhooks).where(
                            webhooks.c.enabled,
                            select(webhook_deliveries.c.event_id)
                            .where(
                                webhook_deliveries.c.webhook_id == webhooks.c.id,
                                webhook_deliveries.c.status == "pending",
                            )
                            .exists(),
                        )
                    )
                )
                .mappings()
                .all()
            )
        if heads:
            await asyncio.gather(*(self._deliver_hook(dict(h)) for h in heads))
        async with self.db.read() as conn:
            next_due = await conn.scalar(
                select(func.min(webhook_deliveries.c.next_attempt_at))
                .select_from(webhook_deliveries.join(webhooks))
                .where(webhook_deliveries.c.status == "pending", webhooks.c.enabled)
            )
        if next_due is None:
            return None
        return float((next_due - utcnow()).total_seconds())

    async def _deliver_hook(self, hook: dict[str, Any]) -> None:
        async with self._limit:
            while True:
                async with self.db.read() as conn:
                    batch = (
                        (
                            await conn.execute(
                                select(
                                    webhook_deliveries,
                                    events.c.created_at.label("event_time"),
                                    events.c.payload,
                                    events.c.id.label("stored_id"),
                                )
                                .select_from(
                                    webhook_deliveries.outerjoin(
                                        events, events.c.id == webhook_deliveries.c.event_id
                                    )
                                )
                                .where(
                                    webhook_deliveries.c.webhook_id == hook["id"],
                                    webhook_deliveries.c.status == "pending",
                                )
                                .order_by(webhook_deliveries.c.event_id)
                                .limit(SEND_BATCH)
                            )
                        )
                        .mappings()
                        .all()
                    )
                now = utcnow()
                for delivery in batch:
                    if (
                        delivery["next_attempt_at"] is not None
                        and delivery["next_attempt_at"] > now
                    ):
                        return  # the oldest is waiting for its retry: keep the order
                    if delivery["stored_id"] is None:
                        await self._expire(delivery)
                        continue
                    body = _body(
                        delivery["event_id"],
                        delivery["event_type"],
                        delivery["event_time"],
                        delivery["payload"],
                    )
                    result = await self._post(
                        hook, body, delivery["event_id"], delivery["event_type"]
                    )
                    still_enabled = await self._record(hook, delivery, result)
                    if not result.ok or not still_enabled:
                        return
                if len(batch) < SEND_BATCH:
                    return

    async def _post(
        self, hook: dict[str, Any], body: bytes, event_id: int, event_type: str
    ) -> Attempt:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(hook["secret"], body),
            EVENT_ID_HEADER: str(event_id),
            EVENT_TYPE_HEADER: event_type,
        }
        started = time.monotonic()
        try:
            split_url(hook["url"])
            session = self._client()
            timeout = aiohttp.ClientTimeout(total=self.settings.webhook_timeout_seconds)
            async with session.post(
                hook["url"], data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                elapsed = _ms(started)
                if 200 <= resp.status < 300:
                    return Attempt(True, resp.status, None, elapsed)
                # the remote body is never stored or shown (it may be anything the URL serves)
                return Attempt(False, resp.status, f"HTTP {resp.status}", elapsed)
        except BlockedAddress as err:
            return Attempt(False, None, f"Refused: {err}", _ms(started))
        except (aiohttp.ClientError, OSError, ValueError, TimeoutError) as err:
            cause = err.__cause__ if isinstance(err.__cause__, BlockedAddress) else err
            if isinstance(cause, BlockedAddress):
                return Attempt(False, None, f"Refused: {cause}", _ms(started))
            # one text for refused, reset, timed out and non-HTTP replies: the error must not
            # tell an open port from a closed one
            return Attempt(False, None, NO_RESPONSE, _ms(started))

    async def _record(self, hook: dict[str, Any], delivery: Any, result: Attempt) -> bool:
        """Store an attempt; returns whether the webhook is still enabled."""
        now = utcnow()
        attempts = int(delivery["attempts"]) + 1
        key = (
            webhook_deliveries.c.webhook_id == hook["id"],
            webhook_deliveries.c.event_id == delivery["event_id"],
            webhook_deliveries.c.status == "pending",
        )
        common = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": result.status,
            "duration_ms": result.duration_ms,
        }
        async with self.db.begin() as conn:
            if result.ok:
                await conn.execute(
                    update(webhook_deliveries)
                    .where(*key)
                    .values(
                        **common,
                        status="delivered",
                        delivered_at=now,
                        last_error=None,
                        next_attempt_at=None,
                    )
                )
                await conn.execute(
                    update(webhooks)
                    .where(webhooks.c.id == hook["id"], webhooks.c.failure_count != 0)
                    .values(failure_count=0)
                )
                return True
            await conn.execute(
                update(webhook_deliveries)
                .where(*key)
                .values(
                    **common,
                    last_error=(result.error or "failed")[:MAX_ERROR_LENGTH],
                    next_attempt_at=now + timedelta(seconds=self.backoff(attempts)),
                )
            )
            await conn.execute(
                update(webhooks)
                .where(webhooks.c.id == hook["id"])
                .values(failure_count=webhooks.c.failure_count + 1)
            )
            failures = await conn.scalar(
                select(webhooks.c.failure_count).where(webhooks.c.id == hook["id"])
            )
            if failures is not None and failures >= self.settings.webhook_max_failures:
                await self._disable(conn, hook["id"], int(failures), result.error or "failed")
                return False
        return failures is not None

    async def _disable(
        self, conn: AsyncConnection, webhook_id: str, failures: int, error: str
    ) -> None:
        from .webhooks import fail_pending

        reason = f"Disabled after {failures} consecutive failed deliveries (last error: {error})"
        await conn.execute(
            update(webhooks)
            .where(webhooks.c.id == webhook_id)
            .values(enabled=False, disabled_reason=reason[:MAX_ERROR_LENGTH], updated_at=utcnow())
        )
        await fail_pending(conn, webhook_id, "webhook disabled after repeated failures")
        _LOGGER.warning("webhook %s disabled: %s", webhook_id, reason)

    async def _expire(self, delivery: Any) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.webhook_id == delivery["webhook_id"],
                    webhook_deliveries.c.event_id == delivery["event_id"],
                    webhook_deliveries.c.status == "pending",
                )
                .values(
                    status="failed",
                    last_error="The event expired before delivery",
                    next_attempt_at=None,
                )
            )

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: base·2^(n-1), capped, ±10 % jitter."""
        base = self.settings.webhook_retry_base_seconds * float(2 ** min(attempts - 1, 30))
        delay = min(base, self.settings.webhook_retry_max_seconds)
        return float(delay * random.uniform(0.9, 1.1))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = guarded_session(self.policy)
        return self._session

    # --- test -----------------------------------------------------------------
    async def send_test(self, hook: dict[str, Any], last_event_id: int) -> dict[str, Any]:
        """POST a ``webhook.test`` event (id 0) now; nothing is recorded."""
        body = _body(
            0,
            "webhook.test",
            utcnow(),
            {
                "webhook_id": hook["id"],
                "message": "Test delivery from APF",
                "last_event_id": last_event_id,
            },
        )
        result = await self._post(hook, body, 0, "webhook.test")
        return {
            "delivered": result.ok,
            "status_code": result.status,
            "error": result.error,
            "duration_ms": result.duration_ms,
        }


class Attempt:
    __slots__ = ("duration_ms", "error", "ok", "status")

    def __init__(self, ok: bool, status: int | None, error: str | None, duration_ms: int) -> None:
        self.ok = ok
        self.status = status
        self.error = error
        self.duration_ms = duration_ms


def _body(event_id: int, event_type: str, when: Any, data: Any) -> bytes:
    return orjson.dumps(
        {"id": event_id, "type": event_type, "time": iso(when), "data": data},
        option=orjson.OPT_NON_STR_KEYS,
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _insert_ignore(conn: AsyncConnection) -> Any:
    """INSERT … ON CONFLICT DO NOTHING (an event is recorded once per webhook)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(webhook_deliveries).on_conflict_do_nothing(
        index_elements=["webhook_id", "event_id"]
    )
