"""Assembly tasks (reference 3.8): print assembly and kit assembly, with stock effects
on completion. Assignee ids and finished-good references are never returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import BadRequest, Conflict, NotFound
from ..storage.tables import metadata
from ..storage.tables.catalogue import products, skus
from ..storage.tables.orders import assembly_tasks
from ..timeutil import new_id, utcnow
from .bom import children_of, consume_inventory_item, inventory_of
from .common import fetch_page, project
from .conflicts import field_error
from .row_schema import nullable, row_schema
from .stock import fg_for_sku, fg_row, move_stock
from .wiki import ARTICLE_DETAIL_SCHEMA, article_view

if TYPE_CHECKING:
    from ..farm import Farm

Rows = list[dict[str, Any]]  # (class methods named `list` shadow the builtin)

T = assembly_tasks
TASK_STATUSES = ("pending", "in_progress", "completed", "cancelled")
TASK_TYPES = ("print_assembly", "kit_assembly")
TASK_FIELDS = (
    "id",
    "task_type",
    "status",
    "product_name",
    "sku",
    "quantity",
    "notes",
    "is_assigned",
    "order_id",
    "created_at",
    "updated_at",
    "completed_at",
)
TASK_SCHEMA = row_schema(
    T,
    TASK_FIELDS,
    {"task_type": vol.In(TASK_TYPES), "status": vol.In(TASK_STATUSES), "is_assigned": bool},
)
TASK_DETAIL_SCHEMA = {
    **TASK_SCHEMA,
    vol.Required("wiki_article"): nullable(ARTICLE_DETAIL_SCHEMA),
}
STATS_SCHEMA = {
    vol.Required("by_status"): {
        vol.Required(status): {vol.Required("count"): int, vol.Required("total_quantity"): int}
        for status in TASK_STATUSES
    },
    vol.Required("total_units_awaiting"): int,
}
COMPLETED_SCHEMA = {vol.Required("task"): TASK_SCHEMA, vol.Required("quantity_completed"): int}
_ORDER = case(
    {"in_progress": 0, "pending": 1, "completed": 2, "cancelled": 3}, value=T.c.status, else_=4
)


def task_view(row: dict[str, Any]) -> dict[str, Any]:
    return project({**row, "is_assigned": row.get("assigned_to") is not None}, TASK_FIELDS)


async def insert_task(
    conn: AsyncConnection,
    farm: Farm,
    *,
    task_type: str,
    fg: dict[str, Any],
    quantity: int,
    notes: str | None = None,
    assigned_to: str | None = None,
    order_id: str | None = None,
    order_item_id: str | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    now = utcnow()
    row = {
        "id": new_id(),
        "task_type": task_type,
        "status": "pending",
        "finished_good_id": fg["id"],
        "product_sku_id": fg["product_sku_id"],
        "product_name": fg["product_name"],
        "sku": fg["sku"],
        "quantity": quantity,
        "assigned_to": assigned_to,
        "notes": notes,
        "order_id": order_id,
        "order_item_id": order_item_id,
        "job_id": job_id,
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
    }
    await conn.execute(insert(T).values(**row))
    view = task_view(row)
    await farm.events.emit(conn, "assembly.created", view)
    return view


async def kit_shortages(conn: AsyncConnection, sku_id: str, quantity: int) -> Rows:
    """What is missing to assemble ``quantity`` kits of ``sku_id`` now."""
    shortages = []
    for child in (await children_of(conn, [sku_id]))[sku_id]:
        needed = int(child["quantity_required"]) * quantity
        have = int(child["child_ready_stock"])
        if have < needed:
            shortages.append(
                {
                    "child_sku_id": child["child_sku_id"],
                    "sku": child["child_sku"],
                    "required": needed,
                    "available": have,
                    "shortage": needed - have,
                }
            )
    for item in (await inventory_of(conn, [sku_id]))[sku_id]:
        needed = int(item["quantity_required"]) * quantity
        if int(item["remaining"]) < needed:
            shortages.append(
                {
                    "inventory_item_id": item["inventory_item_id"],
                    "item_name": item["item_name"],
                    "required": needed,
                    "available": int(item["remaining"]),
                    "shortage": needed - int(item["remaining"]),
                }
            )
    return shortages


class AssemblyService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    async def list(
        self, *, status: str | None, task_type: str | None, limit: int, offset: int
    ) -> Rows:
        query = select(T).order_by(_ORDER, T.c.created_at.desc(), T.c.id)
        if status:
            query = query.where(T.c.status == status)
        if task_type:
            query = query.where(T.c.task_type == task_type)
        async with self.db.read() as conn:
            return [task_view(r) for r in await fetch_page(conn, query, limit, offset)]

    async def stats(self) -> dict[str, Any]:
        query = select(T.c.status, func.count(), func.coalesce(func.sum(T.c.quantity), 0)).group_by(
            T.c.status
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        by_status = {s: {"count": 0, "total_quantity": 0} for s in TASK_STATUSES}
        for status, count, qty in rows:
            by_status[status] = {"count": int(count), "total_quantity": int(qty)}
        awaiting = (
            by_status["pending"]["total_quantity"] + by_status["in_progress"]["total_quantity"]
        )
        return {"by_status": by_status, "total_units_awaiting": awaiting}

    async def get(self, task_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await self._row(conn, task_id)
            view = task_view(row)
            view["wiki_article"] = await self._wiki(conn, row)
        return view

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        async with self.db.begin() as conn:
            fg = await fg_row(conn, body["finished_good_id"])
            if fg is None:
                raise NotFound("Finished good not found", code="FINISHED_GOOD_NOT_FOUND")
            task_type = body.get("task_type") or (
                "kit_assembly" if fg["is_composite"] else "print_assembly"
            )
            if task_type == "kit_assembly" and not fg["is_composite"]:
                raise BadRequest("Kit assembly needs a kit (composite) SKU", code="NOT_A_KIT")
            return await insert_task(
                conn,
                self.farm,
                task_type=task_type,
                fg=fg,
                quantity=body.get("quantity", 1),
                notes=body.get("notes"),
                assigned_to=body.get("assigned_to"),
            )

    async def create_kit_assembly(
        self, sku_id: str, quantity: int, notes: str | None
    ) -> dict[str, Any]:
        async with self.db.begin() as conn:
            sku = (await conn.execute(select(skus).where(skus.c.id == sku_id))).mappings().first()
            if sku is None:
                raise NotFound("SKU not found", code="SKU_NOT_FOUND")
            if not sku["is_composite"]:
                raise BadRequest("This SKU is not a kit", code="NOT_A_KIT")
            shortages = await kit_shortages(conn, sku_id, quantity)
            if shortages:
                raise BadRequest(
                    "Not enough parts on hand to assemble this many kits",
                    code="INSUFFICIENT_FOR_KIT",
                    extra={"shortages": shortages},
                )
            fg = await fg_for_sku(conn, sku_id)
            if fg is None:
                raise NotFound("Inventory item not found", code="INVENTORY_NOT_FOUND")
            return await insert_task(
                conn, self.farm, task_type="kit_assembly", fg=fg, quantity=quantity, notes=notes
            )

    async def update(self, task_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Metadata and status only; no inventory side effects."""
        async with self.db.begin() as conn:
            await self._row(conn, task_id, for_update=True)
            values = {
                k: v
                for k, v in changes.items()
                if k in ("quantity", "assigned_to", "notes", "status")
            }
            now = utcnow()
            if values.get("status") == "completed":
                values["completed_at"] = now
            if values:
                await conn.execute(
                    update(T).where(T.c.id == task_id).values(**values, updated_at=now)
                )
            return task_view(await self._row(conn, task_id))

    async def complete(
        self, task_id: str, quantity_completed: int | None, notes: str | None
    ) -> dict[str, Any]:
        async with self.db.begin() as conn:
            task = await self._row(conn, task_id, for_update=True)
            if task["status"] == "completed":
                raise BadRequest(
                    "Assembly task is already completed", code="TASK_ALREADY_COMPLETED"
                )
            if task["status"] == "cancelled":
                raise Conflict("Assembly task is cancelled", code="INVALID_STATE")
            quantity = quantity_completed or int(task["quantity"])
            if quantity > int(task["quantity"]):
                raise BadRequest(
                    f"quantity_completed ({quantity}) exceeds the task quantity "
                    f"({task['quantity']})",
                    code="VALIDATION_ERROR",
                    extra=field_error("quantity_completed", "exceeds the task quantity"),
                )
            if task["task_type"] == "kit_assembly":
                await self._consume_kit(conn, task, quantity)
            else:
                await self._finish_printed(conn, task, quantity)
            now = utcnow()
            # like AutoPrintFarm: the task is done, recording the quantity actually assembled
            values: dict[str, Any] = {
                "updated_at": now,
                "status": "completed",
                "completed_at": now,
                "quantity": quantity,
            }
            if notes:
                values["notes"] = f"{task['notes']}\n---\n{notes}" if task["notes"] else notes
            await conn.execute(update(T).where(T.c.id == task_id).values(**values))
            view = task_view(await self._row(conn, task_id))
            result = {"task": view, "quantity_completed": quantity}
            await self.farm.events.emit(conn, "assembly.completed", result)
            from .orders import advance_order  # orders builds on this module

            await advance_order(conn, task["order_id"])
        return result

    async def _consume_kit(
        self, conn: AsyncConnection, task: dict[str, Any], quantity: int
    ) -> None:
        """Take the parts out of stock, then credit the kit's ready stock."""
        sku_id = task["product_sku_id"]
        shortages = await kit_shortages(conn, sku_id, quantity)
        if shortages:
            raise BadRequest(
                "Not enough parts on hand to assemble this many kits",
                code="INSUFFICIENT_FOR_KIT",
                extra={"shortages": shortages},
            )
        children = (await children_of(conn, [sku_id]))[sku_id]
        for child in children:
            needed = int(child["quantity_required"]) * quantity
            moved = None
            if child["child_fg_id"]:
                moved = await move_stock(
                    self.farm,
                    conn,
                    child["child_fg_id"],
                    -needed,
                    reason="kit_assembly",
                    reference_type="assembly_task",
                    reference_id=task["id"],
                )
            if moved is None:  # lost a race since the shortage check
                raise BadRequest(
                    f"Not enough {child['child_sku']} on hand",
                    code="INSUFFICIENT_FOR_KIT",
                    extra={"shortages": await kit_shortages(conn, sku_id, quantity)},
                )
        for item in (await inventory_of(conn, [sku_id]))[sku_id]:
            needed = int(item["quantity_required"]) * quantity
            if not item["table"] or not await consume_inventory_item(
                conn, item["table"], item["inventory_item_id"], needed
            ):
                raise BadRequest(
                    f"Not enough {item['item_name']} on hand",
                    code="INSUFFICIENT_FOR_KIT",
                    extra={"shortages": await kit_shortages(conn, sku_id, quantity)},
                )
        await move_stock(
            self.farm,
            conn,
            task["finished_good_id"],
            quantity,
            reason="assembly_completed",
            reference_type="assembly_task",
            reference_id=task["id"],
        )

    async def _finish_printed(
        self, conn: AsyncConnection, task: dict[str, Any], quantity: int
    ) -> None:
        """Printed units that needed assembly become ready stock."""
        fg_id = task["finished_good_id"]
        moved = await move_stock(
            self.farm,
            conn,
            fg_id,
            -quantity,
            bucket="quantity_needs_assembly",
            reason="assembly_completed",
            reference_type="assembly_task",
            reference_id=task["id"],
        )
        if moved is None:
            raise BadRequest(
                "Fewer printed units are awaiting assembly than this task completes",
                code="INSUFFICIENT_STOCK",
            )
        await move_stock(
            self.farm,
            conn,
            fg_id,
            quantity,
            reason="assembly_completed",
            reference_type="assembly_task",
            reference_id=task["id"],
        )

    async def _wiki(self, conn: AsyncConnection, task: dict[str, Any]) -> dict[str, Any] | None:
        """product.wiki_id, else an article for the SKU, else one for the product."""
        table = metadata.tables.get("wiki_articles")
        if table is None:
            return None
        sku = (
            await conn.execute(
                select(skus.c.product_id, products.c.wiki_id)
                .select_from(skus.join(products))
                .where(skus.c.id == task["product_sku_id"])
            )
        ).first()
        if sku is None:
            return None
        for clause in (
            table.c.id == sku.wiki_id if sku.wiki_id else None,
            table.c.sku_id == task["product_sku_id"],
            table.c.product_id == sku.product_id,
        ):
            if clause is None:
                continue
            row = (
                (
                    await conn.execute(
                        select(table).where(clause).order_by(table.c.updated_at.desc()).limit(1)
                    )
                )
                .mappings()
                .first()
            )
            if row is not None:
                return article_view(dict(row), detail=True)
        return None

    async def _row(
        self, conn: AsyncConnection, task_id: str, *, for_update: bool = False
    ) -> dict[str, Any]:
        query = select(T).where(T.c.id == task_id)
        if for_update:
            query = query.with_for_update()
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound("Assembly task not found", code="ASSEMBLY_TASK_NOT_FOUND")
        return dict(row)
