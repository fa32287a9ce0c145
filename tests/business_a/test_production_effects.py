"""Completion side effects run in the job-completion transaction (wired in apf_core.wiring)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from apf_core.services import production_effects
from apf_core.storage.tables.catalogue import stock_adjustments

from .conftest import fg_of, file_ids, make_product, make_sku


async def _stock_moves(api: Any, job_id: str) -> int:
    async with api.farm.db.read() as conn:
        query = select(func.count()).where(stock_adjustments.c.reference_id == job_id)
        return int(await conn.scalar(query) or 0)


async def test_a_failing_side_effect_rolls_the_completion_back(api, monkeypatch) -> None:
    files = await file_ids(api)
    product = await make_product(api, "Crate", requires_assembly=True, print_file_id=files[0])
    sku = await make_sku(api, product["id"], "CRATE-1")
    job = await api.post(
        "/jobs", json={"print_file_id": files[0], "product_sku_id": sku["id"], "number_of_units": 3}
    )
    assert job.status == 201, job.body
    job_id = job.data["id"]

    async def broken_task(*args: Any, **kwargs: Any) -> None:  # runs after the stock moved
        raise RuntimeError("assembly task store is down")

    monkeypatch.setattr(production_effects, "insert_task", broken_task)
    failed = await api.post(f"/jobs/{job_id}/complete", json={})
    assert failed.status == 500, failed.body
    assert (await api.get(f"/jobs/{job_id}")).data["status"] == "queued"
    assert await _stock_moves(api, job_id) == 0  # the stock move went with the rollback
    assert (await api.get("/assembly", params={"task_type": "print_assembly"})).data == []

    monkeypatch.undo()
    done = await api.post(f"/jobs/{job_id}/complete", json={})
    assert done.status == 200, done.body
    assert await _stock_moves(api, job_id) == 1
    assert (await fg_of(api, sku["id"]))["status"] == "needs_assembly"
