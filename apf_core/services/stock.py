"""Finished-goods stock arithmetic shared by inventory, orders, assembly and job completion.

Every change is one conditional UPDATE (``... WHERE bucket + delta >= 0``), so
concurrent writers on SQLite or PostgreSQL can never drive stock negative; the
status is then recomputed in SQL and the change is written to the ledger.

**The one definition of a SKU's stock**, used by every view (``/inventory``, its alerts and
stats, ``/analytics/inventory``, ``/analytics/overview`` and the dashboard):

* the stock figure is the finished good's ``ready_stock`` (units boxed and ready to ship;
  ``/analytics/inventory`` reports it as ``stock_level``). ``skus.stock_level`` is another
  count, the component-level stock ``POST /skus/{id}/adjust`` changes, and no view of
  finished-goods stock reads it;
* the stock state is :data:`STATUS_SQL` (:func:`status_for` in Python): ``out_of_stock`` with
  nothing ready or waiting for assembly, ``needs_assembly`` while printed units wait, else
  ``low_stock`` at or under the threshold, else ``in_stock``; read views compute it, so it can
  never disagree with the figures beside it;
* an item is low (:data:`LOW_SQL`, :func:`is_low`) when it has a threshold and its ready stock
  is at or under it; the low-stock list itself is ``inventory.low_stock_rows``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.tables.catalogue import finished_goods, products, skus, stock_adjustments
from ..timeutil import new_id, utcnow
from .common import project

if TYPE_CHECKING:
    from ..farm import Farm

FG = finished_goods
#: the most units one stock bucket may hold: far beyond any farm, and every bound used in
#: the conditional UPDATE stays inside a 32-bit INTEGER column (PostgreSQL raises on overflow)
MAX_STOCK = 1_000_000_000
FG_STATUSES = ("in_stock", "low_stock", "out_of_stock", "needs_assembly")
FG_FIELDS = (
    "id",
    "product_sku_id",
    "sku",
    "color",
    "material",
    "ready_stock",
    "low_stock_threshold",
    "status",
    "image_url",
    "is_active",
    "created_at",
    "updated_at",
)

#: at or under the threshold (an item without a threshold is never low)
LOW_SQL = and_(FG.c.low_stock_threshold.is_not(None), FG.c.ready_stock <= FG.c.low_stock_threshold)
STATUS_SQL = case(
    (and_(FG.c.ready_stock <= 0, FG.c.quantity_needs_assembly <= 0), "out_of_stock"),
    (FG.c.quantity_needs_assembly > 0, "needs_assembly"),
    (LOW_SQL, "low_stock"),
    else_="in_stock",
)


def is_low(ready: int, threshold: int | None) -> bool:
    """The same rule as :data:`LOW_SQL`."""
    return threshold is not None and ready <= threshold


def status_for(ready: int, needs_assembly: int, threshold: int | None) -> str:
    """The same rule as :data:`STATUS_SQL` (AutoPrintFarm's): printed units waiting for
    assembly win over low stock."""
    if ready <= 0 and needs_assembly <= 0:
        return "out_of_stock"
    if needs_assembly > 0:
        return "needs_assembly"
    if is_low(ready, threshold):
        return "low_stock"
    return "in_stock"


def fg_select() -> Select[Any]:
    """Finished goods joined with their SKU and product (for projections); ``status`` is
    computed by :data:`STATUS_SQL`, not read from the stored column."""
    return select(
        *(column for column in FG.c if column.name != "status"),
        STATUS_SQL.label("status"),
        skus.c.sku,
        skus.c.color,
        skus.c.filament_type.label("material"),
        skus.c.is_composite,
        skus.c.product_id,
        products.c.name.label("product_name"),
        products.c.kind.label("product_kind"),
    ).select_from(
        FG.join(skus, skus.c.id == FG.c.product_sku_id).join(
            products, products.c.id == skus.c.product_id
        )
    )


def fg_view(row: dict[str, Any]) -> dict[str, Any]:
    """The public FG projection: never pricing, assembly internals or job refs."""
    return project(row, FG_FIELDS)


async def fg_row(conn: AsyncConnection, fg_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(fg_select().where(FG.c.id == fg_id))).mappings().first()
    return dict(row) if row else None


async def fg_for_sku(conn: AsyncConnection, sku_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(fg_select().where(FG.c.product_sku_id == sku_id))).mappings().first()
    return dict(row) if row else None


async def create_fg(
    conn: AsyncConnection,
    sku_id: str,
    *,
    ready_stock: int = 0,
    threshold: int | None = 5,
    image_url: str | None = None,
) -> str:
    now = utcnow()
    fg_id = new_id()
    await conn.execute(
        insert(FG).values(
            id=fg_id,
            product_sku_id=sku_id,
            ready_stock=ready_stock,
            quantity_needs_assembly=0,
            low_stock_threshold=threshold,
            status=status_for(ready_stock, 0, threshold),
            image_url=image_url,
            is_active=True,
            created_at=now,
            updated_at=now,
        )
    )
    return fg_id


async def refresh_status(conn: AsyncConnection, fg_id: str) -> str:
    result = await conn.execute(
        update(FG).where(FG.c.id == fg_id).values(status=STATUS_SQL).returning(FG.c.status)
    )
    return str(result.scalar_one())


@dataclass(slots=True)
class StockMove:
    fg_id: str
    bucket: str
    adjustment: int
    previous: int
    new: int
    previous_status: str
    new_status: str
    threshold: int | None
    ready_stock: int

    @property
    def is_low_stock(self) -> bool:
        return is_low(self.ready_stock, self.threshold)


async def move_stock(
    farm: Farm,
    conn: AsyncConnection,
    fg_id: str,
    delta: int,
    *,
    reason: str,
    bucket: str = "ready_stock",
    notes: str | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
) -> StockMove | None:
    """Add ``delta`` to one stock bucket atomically; ``None`` when it would go below zero
    (or above :data:`MAX_STOCK`)."""
    column = FG.c[bucket]
    if abs(delta) > MAX_STOCK:
        return None
    now = utcnow()
    result = await conn.execute(
        update(FG)
        # compared with constants, so the column never overflows while it is checked
        .where(FG.c.id == fg_id, column >= -delta, column <= MAX_STOCK - delta)
        .values({bucket: column + delta, "updated_at": now})
        .returning(column, FG.c.status, FG.c.low_stock_threshold, FG.c.ready_stock)
    )
    row = result.first()
    if row is None:
        return None
    new_value, previous_status, threshold, ready = int(row[0]), str(row[1]), row[2], int(row[3])
    new_status = await refresh_status(conn, fg_id)
    move = StockMove(
        fg_id=fg_id,
        bucket=bucket,
        adjustment=delta,
        previous=new_value - delta,
        new=new_value,
        previous_status=previous_status,
        new_status=new_status,
        threshold=threshold,
        ready_stock=ready,
    )
    await conn.execute(
        insert(stock_adjustments).values(
            id=new_id(),
            finished_good_id=fg_id,
            bucket=bucket,
            adjustment=delta,
            previous_stock=move.previous,
            new_stock=move.new,
            reason=reason,
            notes=notes,
            reference_type=reference_type,
            reference_id=reference_id,
            created_at=now,
        )
    )
    await _emit_low_stock(farm, conn, move)
    return move


async def _emit_low_stock(farm: Farm, conn: AsyncConnection, move: StockMove) -> None:
    """``inventory.low_stock`` when this move took ready stock down to its threshold."""
    threshold = move.threshold
    if move.bucket != "ready_stock" or threshold is None:
        return
    if move.previous > threshold >= move.new:
        current = await fg_row(conn, move.fg_id)
        if current is not None:
            await farm.events.emit(conn, "inventory.low_stock", fg_view(current))
