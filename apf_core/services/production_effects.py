"""What a completed print job produces: finished goods, assembly tasks, order progress.

A completed job with a ``product_sku_id`` adds its units to that SKU's finished
goods: to ``ready_stock``, or to ``quantity_needs_assembly`` plus a
``print_assembly`` task when the job requires assembly; then its order advances.
:class:`ProductionEffects` is subscribed to
:meth:`~apf_core.lifecycle.Lifecycle.on_job_completed` by :mod:`apf_core.wiring`,
so all of it happens inside the job-completion transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from .assembly import insert_task
from .orders import advance_order
from .skus import SkuService
from .stock import FG, create_fg, fg_for_sku, fg_row, move_stock

if TYPE_CHECKING:
    from ..farm import Farm


class ProductionEffects:
    """The job-completion subscriber (a :data:`~apf_core.lifecycle.machine.JobHook`)."""

    def __init__(self, farm: Farm) -> None:
        self.farm = farm

    async def job_completed(self, conn: AsyncConnection, job: dict[str, Any]) -> None:
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
        needs_assembly = bool(job.get("requires_assembly"))
        await move_stock(
            self.farm,
            conn,
            fg["id"],
            units,
            bucket="quantity_needs_assembly" if needs_assembly else "ready_stock",
            reason="print_completion",
            reference_type="job",
            reference_id=job["id"],
        )
        if needs_assembly:
            await self._assembly_task(conn, job, fg["id"], units)
        await advance_order(conn, job.get("order_id"))

    async def _assembly_task(
        self, conn: AsyncConnection, job: dict[str, Any], fg_id: str, units: int
    ) -> None:
        fresh = await fg_row(conn, fg_id)
        assert fresh is not None
        await insert_task(
            conn,
            self.farm,
            task_type="print_assembly",
            fg=fresh,
            quantity=units,
            order_id=job.get("order_id"),
            order_item_id=job.get("order_item_id"),
            job_id=job["id"],
        )
