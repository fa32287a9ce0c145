"""Assembly tasks: create, list order, stats, patch, complete, wiki link, hidden fields."""

from __future__ import annotations

import pytest

from .conftest import fg_of, file_ids, make_product, make_sku

TASK_KEYS = {
    "id",
    "task_type",
    "status",
    "product_name",
    "sku",
    "quantity",
    "notes",
    "created_at",
    "updated_at",
    "completed_at",
}


async def _item(api, name="Frame", code="FR-1", **product):
    prod = await make_product(api, name, **product)
    sku = await make_sku(api, prod["id"], code)
    return prod, sku, await fg_of(api, sku["id"])


async def test_create_list_stats_patch(api):
    _, _, fg = await _item(api)
    created = await api.post(
        "/assembly",
        json={
            "finished_good_id": fg["id"],
            "quantity": 3,
            "assigned_to": "user-42",
            "notes": "n1",
        },
    )
    assert created.status == 201, created.body
    task = created.data
    assert set(task) >= TASK_KEYS
    assert task["status"] == "pending"
    assert task["task_type"] == "print_assembly"
    assert task["sku"] == "FR-1"
    assert task["product_name"] == "Frame"
    for hidden in ("assigned_to", "finished_good_id", "product_sku_id", "job_id"):
        assert hidden not in task
    assert task["is_assigned"] is True
    second = (await api.post("/assembly", json={"finished_good_id": fg["id"]})).data
    assert second["quantity"] == 1
    third = (await api.post("/assembly", json={"finished_good_id": fg["id"], "quantity": 2})).data

    moved = await api.patch(f"/assembly/{second['id']}", json={"status": "in_progress"})
    assert moved.data["status"] == "in_progress"
    done = await api.patch(f"/assembly/{third['id']}", json={"status": "completed"})
    assert done.data["completed_at"] is not None
    back = await api.patch(
        f"/assembly/{third['id']}", json={"status": "pending", "assigned_to": None}
    )
    assert back.data["completed_at"] == done.data["completed_at"]  # kept when moved back
    assert back.data["is_assigned"] is False
    await api.patch(f"/assembly/{third['id']}", json={"status": "completed"})
    assert (await fg_of(api, fg["product_sku_id"]))["ready_stock"] == 0  # PATCH has no stock effect

    listed = await api.get("/assembly", key="read")
    assert listed.body["meta"] == {"limit": 50, "offset": 0, "count": 3}
    assert [t["status"] for t in listed.data] == ["in_progress", "pending", "completed"]
    only = await api.get("/assembly", params={"status": "pending", "task_type": "print_assembly"})
    assert [t["id"] for t in only.data] == [task["id"]]
    kits = await api.get("/assembly", params={"task_type": "kit_assembly"})
    assert kits.data == []
    stats = (await api.get("/assembly/stats")).data
    assert stats["by_status"]["pending"] == {"count": 1, "total_quantity": 3}
    assert stats["by_status"]["in_progress"] == {"count": 1, "total_quantity": 1}
    assert stats["by_status"]["completed"]["count"] == 1
    assert stats["total_units_awaiting"] == 4
    bad = await api.patch(f"/assembly/{task['id']}", json={"status": "cancelled", "quantity": 0})
    assert bad.status == 400
    assert bad.code == "VALIDATION_ERROR"
    wrong = await api.post(
        "/assembly", json={"finished_good_id": fg["id"], "task_type": "kit_assembly"}
    )
    assert wrong.status == 400
    assert wrong.code == "NOT_A_KIT"


async def test_print_assembly_completion_moves_stock(api):
    files = await file_ids(api)
    _, sku, fg = await _item(api, "Box", "BOX-1", requires_assembly=True, print_file_id=files[0])
    job = await api.post(
        "/jobs", json={"print_file_id": files[0], "product_sku_id": sku["id"], "number_of_units": 4}
    )
    assert job.status == 201, job.body
    assert job.data["product_name"] == "Box"
    unknown = await api.post("/jobs", json={"print_file_id": files[0], "product_sku_id": "nope"})
    assert unknown.status == 404
    assert unknown.code == "SKU_NOT_FOUND"
    assert (await api.get(f"/jobs/{job.data['id']}")).data["sku_name"] == "BOX-1"
    await api.post(f"/jobs/{job.data['id']}/complete", json={})
    detail = await fg_of(api, sku["id"])
    assert detail["status"] == "needs_assembly"
    assert detail["ready_stock"] == 0
    task = (await api.get("/assembly", params={"task_type": "print_assembly"})).data[0]
    assert task["quantity"] == 4
    over = await api.post(f"/assembly/{task['id']}/complete", json={"quantity_completed": 5})
    assert over.status == 400
    part = await api.post(f"/assembly/{task['id']}/complete", json={"quantity_completed": 3})
    assert part.data["quantity_completed"] == 3
    assert part.data["task"]["status"] == "completed"
    assert part.data["task"]["quantity"] == 3
    assert (await fg_of(api, sku["id"]))["ready_stock"] == 3
    assert (await fg_of(api, sku["id"]))["status"] == "needs_assembly"  # one still waiting
    rest_task = await api.post("/assembly", json={"finished_good_id": fg["id"], "quantity": 1})
    rest = await api.post(f"/assembly/{rest_task.data['id']}/complete", json={})
    assert rest.data["task"]["status"] == "completed"
    assert (await fg_of(api, sku["id"]))["ready_stock"] == 4
    again = await api.post(f"/assembly/{task['id']}/complete", json={})
    assert again.status == 400
    assert again.code == "TASK_ALREADY_COMPLETED"
    # a hand-made print-assembly task cannot conjure stock
    extra = (await api.post("/assembly", json={"finished_good_id": fg["id"], "quantity": 1})).data
    refused = await api.post(f"/assembly/{extra['id']}/complete", json={})
    assert refused.status == 400
    assert refused.code == "INSUFFICIENT_STOCK"
    assert (await fg_of(api, sku["id"]))["ready_stock"] == 4


async def test_task_detail_links_wiki(api):
    _, sku, fg = await _item(api, "Planter", "PL-1")
    task = (await api.post("/assembly", json={"finished_good_id": fg["id"]})).data
    detail = await api.get(f"/assembly/{task['id']}")
    assert detail.data["wiki_article"] is None
    article = await api.post(
        "/wiki", json={"title": "Assembling the planter", "sku_id": sku["id"], "content": "Step 1"}
    )
    if article.status == 404 and article.body.get("code") == "NOT_FOUND":
        pytest.skip("wiki area not present")
    assert article.status == 201, article.body
    detail = await api.get(f"/assembly/{task['id']}")
    wiki = detail.data["wiki_article"]
    assert wiki["id"] == article.data["id"]
    assert wiki["content"] == "Step 1"
    assert "author_id" not in wiki
    assert "last_edited_by" not in wiki
