"""Orders (reference 3.4): creation, production (jobs + kit-assembly tasks), fulfilment.

``external_data`` is never returned or settable; money is integer cents.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Conflict, NotFound, ValidationFailed
from ..storage.tables.orders import assembly_tasks, order_items, orders
from ..storage.tables.spine import jobs
from ..timeutil import new_id, utcnow
from .common import count, fetch_page
from .order_fulfilment import check_fulfillable, deduct
from .order_lines import item_row
from .order_production import OrderProduction
from .order_views import (
    CLOSED,
    NOT_REVENUE,
    ORDER_FIELDS,
    ORDER_STATUSES,
    PLATFORMS,
    item_view,
    order_view,
)

if TYPE_CHECKING:
    from ..farm import Farm

Rows = list[dict[str, Any]]  # (class methods named `list` shadow the builtin)

ORDER_PATCHABLE = (
    "customer_name",
    "customer_email",
    "customer_phone",
    "status",
    "shipping_cost",
    "tax_amount",
    "discount_amount",
    "shipping_street",
    "shipping_city",
    "shipping_state",
    "shipping_zip",
    "shipping_country",
    "tracking_number",
    "tracking_url",
    "notes",
)
LIVE_JOB_STATES = ("queued", "processing", "uploaded", "printing", "paused", "completed")


_SUFFIX_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no look-alike characters


def _order_number(platform: str) -> str:
    """``MAN-YYYYMMDD-XXXX`` for manual orders, ``PF-...`` otherwise (AutoPrintFarm's format)."""
    suffix = "".join(secrets.choice(_SUFFIX_CHARS) for _ in range(4))
    return f"{'MAN' if platform == 'manual' else 'PF'}-{utcnow():%Y%m%d}-{suffix}"


async def _free_order_number(conn: AsyncConnection, body: dict[str, Any]) -> str | None:
    """The given order number, or a generated one (retried until free); refused when taken."""
    number: str | None = body.get("order_number")
    for _ in range(10):  # a generated number is retried until it is free
        if number:
            break
        candidate = _order_number(body.get("platform", "manual"))
        if await conn.scalar(select(orders.c.id).where(orders.c.order_number == candidate)) is None:
            number = candidate
    taken = await conn.scalar(select(orders.c.id).where(orders.c.order_number == number))
    if taken is not None:
        raise Conflict(f"Order number {number} already exists", code="DUPLICATE_ORDER_NUMBER")
    return number


#: money is stored as 32-bit INTEGER cents
MAX_CENTS = 2**31 - 1


def _check_money(items: Rows, total: int) -> None:
    """Computed line totals and the order total must fit the money columns."""
    problems = [
        {"field": f"items.{n}.unit_price", "message": f"quantity x unit_price above {MAX_CENTS}"}
        for n, item in enumerate(items)
        if item["total_price"] > MAX_CENTS
    ]
    if total > MAX_CENTS:
        problems.append({"field": "total_revenue", "message": f"order total above {MAX_CENTS}"})
    if problems:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise ValidationFailed(f"Invalid body: {summary}", extra={"details": problems})


class OrderService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    # --- reads ---------------------------------------------------------------
    async def list(
        self,
        *,
        status: str | None,
        platform: str | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[Rows, int]:
        query = select(orders)
        if status:
            query = query.where(orders.c.status == status)
        if platform:
            query = query.where(orders.c.platform == platform)
        if start is not None:
            query = query.where(orders.c.order_date >= start)
        if end is not None:
            query = query.where(orders.c.order_date <= end)
        query = query.order_by(orders.c.order_date.desc(), orders.c.created_at.desc(), orders.c.id)
        async with self.db.read() as conn:
            rows = await fetch_page(conn, query, limit, offset)
            total = await count(conn, query)
        return [order_view(r) for r in rows], total

    async def get(self, order_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            return await self._full(conn, await self._row(conn, order_id))

    async def stats(self) -> dict[str, Any]:
        since = utcnow() - timedelta(days=30)
        async with self.db.read() as conn:
            by_status = dict.fromkeys(ORDER_STATUSES, 0)
            for status, n in await conn.execute(
                select(orders.c.status, func.count()).group_by(orders.c.status)
            ):
                by_status[status] = int(n)
            by_platform = dict.fromkeys(PLATFORMS, 0)
            for platform, n in await conn.execute(
                select(orders.c.platform, func.count()).group_by(orders.c.platform)
            ):
                by_platform[platform] = int(n)
            recent = (
                await conn.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(orders.c.total_revenue), 0),
                        func.coalesce(func.sum(orders.c.shipping_cost), 0),
                        func.coalesce(func.sum(orders.c.tax_amount), 0),
                        func.coalesce(func.sum(orders.c.discount_amount), 0),
                    ).where(orders.c.order_date >= since, orders.c.status.not_in(NOT_REVENUE))
                )
            ).one()
        n, revenue = int(recent[0]), int(recent[1])
        return {
            "total_orders": sum(by_status.values()),
            "by_status": by_status,
            "by_platform": by_platform,
            "pending_fulfillment": sum(
                by_status[s] for s in ("pending", "processing", "printed", "assembled")
            ),
            "last_30_days": {
                "total_orders": n,
                "total_revenue": revenue,
                "total_shipping": int(recent[2]),
                "total_tax": int(recent[3]),
                "total_discount": int(recent[4]),
                "avg_order_value": round(revenue / n) if n else 0,
            },
        }

    # --- writes --------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self.db.begin() as conn:
                order = await self._create(conn, body)
        except IntegrityError:
            raise Conflict("Order number already exists", code="DUPLICATE_ORDER_NUMBER") from None
        return order

    async def _create(self, conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
        number = await _free_order_number(conn, body)
        now = utcnow()
        order_id = new_id()
        items = [
            await item_row(conn, spec, index, order_id, now + timedelta(microseconds=index))
            for index, spec in enumerate(body["items"])
        ]
        total = body.get("total_revenue")
        if total is None:
            total = sum(i["total_price"] for i in items)
        _check_money(items, total)
        row = {
            **{k: v for k, v in body.items() if k in ORDER_FIELDS},
            "id": order_id,
            "order_number": number,
            "platform": body.get("platform", "manual"),
            "order_date": body.get("order_date") or now,
            "status": "pending",
            "total_revenue": total,
            "shipping_cost": body.get("shipping_cost", 0),
            "tax_amount": body.get("tax_amount", 0),
            "discount_amount": body.get("discount_amount", 0),
            "shipping_country": body.get("shipping_country", "USA"),
            "created_at": now,
            "updated_at": now,
        }
        await conn.execute(insert(orders).values(**row))
        for item in items:
            await conn.execute(insert(order_items).values(**item))
        view = await self._full(conn, row)
        await self.farm.events.emit(conn, "order.created", view)
        return view

    async def update(self, order_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            await self._row(conn, order_id, for_update=True)
            values = {k: v for k, v in changes.items() if k in ORDER_PATCHABLE}
            now = utcnow()
            if values.get("status") == "shipped":
                values.setdefault("shipped_at", now)
            if values:
                await conn.execute(
                    update(orders).where(orders.c.id == order_id).values(**values, updated_at=now)
                )
            view = order_view(await self._row(conn, order_id))
            await self.farm.events.emit(conn, "order.updated", view)
        return view

    async def fulfill(
        self, order_id: str, *, tracking_number: str | None, tracking_url: str | None
    ) -> dict[str, Any]:
        """Deduct ready stock line by line; lines without stock stay open and are reported."""
        async with self.db.begin() as conn:
            order = await self._row(conn, order_id, for_update=True)
            check_fulfillable(order)
            errors: list[str] = []
            # a fixed row order (by SKU) so concurrent fulfilments lock stock rows alike
            items = sorted(
                await self._items(conn, order_id), key=lambda i: i["product_sku_id"] or ""
            )
            open_items = [i for i in items if int(i["quantity"]) > int(i["quantity_fulfilled"])]
            if not open_items:
                raise BadRequest("All items are already fulfilled", code="ALL_ITEMS_FULFILLED")
            for item in open_items:
                remaining = int(item["quantity"]) - int(item["quantity_fulfilled"])
                error = await deduct(self.farm, conn, order, item, remaining)
                if error:
                    errors.append(error)
            now = utcnow()
            values: dict[str, Any] = {"updated_at": now}
            if tracking_number is not None:
                values["tracking_number"] = tracking_number
            if tracking_url is not None:
                values["tracking_url"] = tracking_url
            done = not errors
            if done:
                tracked = tracking_number or order["tracking_number"]
                values.update(status="shipped" if tracked else "fulfilled", shipped_at=now)
            elif len(errors) < len(open_items) and order["status"] == "pending":
                values["status"] = "processing"
            await conn.execute(update(orders).where(orders.c.id == order_id).values(**values))
            view = await self._full(conn, await self._row(conn, order_id))
            view["fulfillment_errors"] = errors
            if done:
                await self.farm.events.emit(
                    conn,
                    "order.fulfilled",
                    {k: v for k, v in view.items() if k != "fulfillment_errors"},
                )
        return view

    async def fulfill_item(self, order_id: str, item_id: str, quantity: int) -> dict[str, Any]:
        async with self.db.begin() as conn:
            order = await self._row(conn, order_id, for_update=True)
            check_fulfillable(order)
            item = next((i for i in await self._items(conn, order_id) if i["id"] == item_id), None)
            if item is None:
                raise NotFound("Order item not found", code="ORDER_ITEM_NOT_FOUND")
            remaining = int(item["quantity"]) - int(item["quantity_fulfilled"])
            if remaining <= 0:
                raise BadRequest("Order item is already fulfilled", code="ITEM_ALREADY_FULFILLED")
            if quantity > remaining:
                raise BadRequest(
                    f"Only {remaining} unit(s) of this line are still open",
                    code="EXCESSIVE_FULFILLMENT",
                )
            error = await deduct(self.farm, conn, order, item, quantity)
            if error:
                raise BadRequest(error, code=error.split(":", 1)[0])
            open_lines = [
                i
                for i in await self._items(conn, order_id)
                if i["quantity_fulfilled"] < i["quantity"]
            ]
            now = utcnow()
            values: dict[str, Any] = {"updated_at": now}
            if not open_lines:
                values.update(
                    status="shipped" if order["tracking_number"] else "fulfilled", shipped_at=now
                )
            elif order["status"] == "pending":
                values["status"] = "processing"
            await conn.execute(update(orders).where(orders.c.id == order_id).values(**values))
            view = await self._full(conn, await self._row(conn, order_id))
            if not open_lines:
                await self.farm.events.emit(conn, "order.fulfilled", view)
        return view

    # --- production ------------------------------------------------------------
    async def produce(self, order_id: str) -> dict[str, Any]:
        """Queue what the open lines still need; safe to call again (idempotent)."""
        async with self.db.begin() as conn:
            order = await self._row(conn, order_id, for_update=True)
            if order["status"] in CLOSED:
                # a wrong state is a 409 INVALID_STATE everywhere (jobs, printers, tasks)
                raise Conflict(
                    f"Cannot produce an order that is {order['status']}", code="INVALID_STATE"
                )
            production = OrderProduction(self.farm, conn, order_id, LIVE_JOB_STATES)
            for item in await self._items(conn, order_id):
                await production.item(item)
            made = production.out
            if (made.jobs or made.assembly_tasks) and order["status"] == "pending":
                await conn.execute(
                    update(orders)
                    .where(orders.c.id == order_id)
                    .values(status="processing", updated_at=utcnow())
                )
        return {
            "order_id": order_id,
            "jobs": made.jobs,
            "assembly_tasks": made.assembly_tasks,
            "shortages": made.shortages,
            "unmatched_items": made.unmatched_items,
        }

    # --- helpers -------------------------------------------------------------------
    async def _items(self, conn: AsyncConnection, order_id: str) -> Rows:
        rows = await conn.execute(
            select(order_items)
            .where(order_items.c.order_id == order_id)
            .order_by(order_items.c.created_at, order_items.c.id)
        )
        return [dict(r) for r in rows.mappings()]

    async def _full(self, conn: AsyncConnection, row: dict[str, Any]) -> dict[str, Any]:
        view = order_view(row)
        view["items"] = [item_view(i) for i in await self._items(conn, row["id"])]
        return view

    async def _row(
        self, conn: AsyncConnection, order_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        query = select(orders).where(orders.c.id == order_id)
        if for_update:
            query = query.with_for_update()
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound("Order not found", code="ORDER_NOT_FOUND")
        return dict(row)


async def advance_order(conn: AsyncConnection, order_id: str | None) -> None:
    """processing → printed when its jobs are done, → assembled when its assembly tasks are too."""
    if not order_id:
        return
    status = await conn.scalar(select(orders.c.status).where(orders.c.id == order_id))
    if status not in ("processing", "printed"):
        return
    open_jobs = await conn.scalar(
        select(func.count())
        .select_from(jobs)
        .where(
            jobs.c.order_id == order_id, jobs.c.status.not_in(("completed", "failed", "cancelled"))
        )
    )
    if open_jobs:
        return
    open_tasks = await conn.scalar(
        select(func.count())
        .select_from(assembly_tasks)
        .where(
            assembly_tasks.c.order_id == order_id,
            assembly_tasks.c.status.in_(("pending", "in_progress")),
        )
    )
    new = "printed" if open_tasks else "assembled"
    if new != status:
        await conn.execute(
            update(orders).where(orders.c.id == order_id).values(status=new, updated_at=utcnow())
        )
