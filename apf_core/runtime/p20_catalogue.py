"""Catalogue hooks: stock side effects of completed print jobs, and the SKU lookup
used by ``POST /jobs``.

A completed job with a ``product_sku_id`` adds its units to that SKU's finished
goods: to ``ready_stock``, or to ``quantity_needs_assembly`` plus a
``print_assembly`` task when the job requires assembly. It all happens inside the
job-completion transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..services.assembly import insert_task
from ..services.orders import advance_order
from ..services.skus import SkuService
from ..services.stock import FG, create_fg, fg_for_sku, fg_row, move_stock

if TYPE_CHECKING:
    from ..farm import Farm


def completion_hook(farm: Farm) -> Any:
    async def on_job_completed(conn: AsyncConnection, job: dict[str, Any]) -> None:
        sku_id = job.get("product_sku_id")
        if not sku_id or await SkuService.lookup(conn, sku_id) is None:
            await advance_order(conn, job.get("order_id"))
            return
        units = max(0, int(job.get("number_of_units") or 0))
        if units == 0:
            return
        fg = await fg_for_sku(conn, sku_id)
        if fg is None:  # reconcile a SKU that lost its finished-goods row
            await create_fg(conn, sku_id)
            fg = await fg_for_sku(conn, sku_id)
            assert fg is not None
        await conn.execute(update(FG).where(FG.c.id == fg["id"]).values(print_job_id=job["id"]))
        if job.get("requires_assembly"):
            await move_stock(
                farm,
                conn,
                fg["id"],
                units,
                bucket="quantity_needs_assembly",
                reason="print_completion",
                reference_type="job",
                reference_id=job["id"],
            )
            fresh = await fg_row(conn, fg["id"])
            assert fresh is not None
            await insert_task(
                conn,
                farm,
                task_type="print_assembly",
                fg=fresh,
                quantity=units,
                order_id=job.get("order_id"),
                order_item_id=job.get("order_item_id"),
                job_id=job["id"],
            )
        else:
            await move_stock(
                farm,
                conn,
                fg["id"],
                units,
                reason="print_completion",
                reference_type="job",
                reference_id=job["id"],
            )
        await advance_order(conn, job.get("order_id"))

    return on_job_completed


async def start(farm: Farm) -> None:
    farm.lifecycle.on_job_completed(completion_hook(farm))
    farm.extensions["sku_lookup"] = SkuService.lookup
    (farm.settings.data_dir / "images").mkdir(parents=True, exist_ok=True)
    return None
