"""What an order still needs, queued: print jobs for its lines (and for a kit's parts) and
kit-assembly tasks. Runs inside the caller's transaction (:meth:`OrderService.produce`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.tables.catalogue import products, skus
from ..storage.tables.orders import assembly_tasks
from ..storage.tables.spine import jobs, print_files
from .assembly import insert_task
from .bom import children_of
from .jobs import JobService
from .stock import fg_for_sku

if TYPE_CHECKING:
    from ..farm import Farm

Rows = list[dict[str, Any]]


@dataclass
class Production:
    """What one ``produce`` call created, and what it could not."""

    jobs: Rows = field(default_factory=list)
    assembly_tasks: Rows = field(default_factory=list)
    shortages: Rows = field(default_factory=list)
    unmatched_items: Rows = field(default_factory=list)


class OrderProduction:
    def __init__(self, farm: Farm, conn: AsyncConnection, order_id: str, live: tuple[str, ...]):
        self.farm = farm
        self.conn = conn
        self.order_id = order_id
        self.live_states = live
        self.jobs = JobService(farm)
        self.out = Production()

    async def item(self, item: dict[str, Any]) -> None:
        """Queue what one order line still needs (nothing when a live job/task covers it)."""
        remaining = int(item["quantity"]) - int(item["quantity_fulfilled"])
        if remaining <= 0:
            return
        sku = None
        if item["product_sku_id"] is not None:
            query = (
                select(skus, products.c.print_file_id, products.c.requires_assembly)
                .select_from(skus.join(products))
                .where(skus.c.id == item["product_sku_id"])
            )
            sku = (await self.conn.execute(query)).mappings().first()
        if sku is None:
            self.out.unmatched_items.append(
                {
                    "order_item_id": item["id"],
                    "sku": item["sku"],
                    "product_name": item["product_name"],
                }
            )
            return
        live_jobs = await self._live_job_skus(item["id"])
        if sku["is_composite"]:
            await self._kit(item, dict(sku), remaining, live_jobs)
        elif sku["id"] not in live_jobs:
            await self._job(item, sku["product_id"], sku["id"], remaining, None)

    async def _kit(
        self, item: dict[str, Any], sku: dict[str, Any], remaining: int, live_jobs: set[str]
    ) -> None:
        if not await self._has_live_task(item["id"]):
            fg = await fg_for_sku(self.conn, sku["id"])
            if fg is not None:
                self.out.assembly_tasks.append(
                    await insert_task(
                        self.conn,
                        self.farm,
                        task_type="kit_assembly",
                        fg=fg,
                        quantity=remaining,
                        order_id=self.order_id,
                        order_item_id=item["id"],
                    )
                )
        for child in (await children_of(self.conn, [sku["id"]]))[sku["id"]]:
            if child["child_sku_id"] not in live_jobs:
                units = remaining * int(child["quantity_required"])
                product_id, sku_id = child["child_product_id"], child["child_sku_id"]
                await self._job(item, product_id, sku_id, units, child["child_sku"])

    async def _job(
        self, item: dict[str, Any], product_id: str, sku_id: str, units: int, part_sku: str | None
    ) -> None:
        part = await self._part_file(product_id)
        if part is None:
            self.out.shortages.append(
                {
                    "order_item_id": item["id"],
                    "sku": item["sku"],
                    "part_sku": part_sku,
                    "reason": "NO_PRINT_FILE",
                }
            )
            return
        body = {
            "print_file_id": part[0],
            "product_sku_id": sku_id,
            "number_of_units": units,
            "requires_assembly": part[1],
            "order_id": self.order_id,
            "order_item_id": item["id"],
        }
        self.out.jobs.append(await self.jobs.create_in(self.conn, body))

    async def _live_job_skus(self, item_id: str) -> set[str]:
        rows = await self.conn.execute(
            select(jobs.c.product_sku_id).where(
                jobs.c.order_item_id == item_id, jobs.c.status.in_(self.live_states)
            )
        )
        return {r[0] for r in rows if r[0]}

    async def _has_live_task(self, item_id: str) -> bool:
        found = await self.conn.scalar(
            select(func.count())
            .select_from(assembly_tasks)
            .where(
                assembly_tasks.c.order_item_id == item_id,
                assembly_tasks.c.task_type == "kit_assembly",
                assembly_tasks.c.status != "cancelled",
            )
        )
        return bool(found)

    async def _part_file(self, product_id: str) -> tuple[str, bool] | None:
        """(print file id, requires_assembly) of a product: its own file, else its newest file."""
        product = (
            await self.conn.execute(
                select(products.c.print_file_id, products.c.requires_assembly).where(
                    products.c.id == product_id
                )
            )
        ).first()
        if product is None:
            return None
        file_id = product.print_file_id
        if file_id is None:
            file_id = await self.conn.scalar(
                select(print_files.c.id)
                .where(print_files.c.product_id == product_id)
                .order_by(print_files.c.created_at.desc())
                .limit(1)
            )
        return (str(file_id), bool(product.requires_assembly)) if file_id else None
