async def test_product_sku_fg(api):
    r = await api.post("/products", json={"name": "Thing"})
    assert r.status == 201, r.body
    s = await api.post("/skus", json={"product_id": r.data["id"], "sku": "T-1", "color": "Red"})
    assert s.status == 201, s.body
    inv = await api.get(f"/inventory/by-sku/{s.data['id']}")
    assert inv.status == 200, inv.body
    assert inv.data["ready_stock"] == 0
