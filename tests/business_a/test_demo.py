"""The demo farm has a catalogue, stock, a kit and an open order."""


async def test_demo_catalogue(api):
    products = {p["name"] for p in (await api.get("/products")).data}
    assert {"Phone Stand", "Cable Clip", "Desk Organizer Kit"} <= products
    stock = {i["sku"]: i for i in (await api.get("/inventory")).data}
    assert stock["PS-BLK"]["ready_stock"] == 12
    assert stock["PS-WHT"]["status"] == "low_stock"
    orders = (await api.get("/orders", params={"status": "pending"})).data
    assert [o["order_number"] for o in orders] == ["DEMO-1001"]
    assert len((await api.get("/colors")).data) == 5
    kit = next(s for s in (await api.get("/skus")).data if s["sku"] == "DOK-RED")
    assert kit["is_composite"] is True
