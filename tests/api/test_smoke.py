async def test_lists_demo_printers(api):
    reply = await api.get("/printers", key="read")
    assert reply.status == 200
    names = {p["name"] for p in reply.data}
    assert {"Voron 2.4", "X1C", "MK4", "Ender 3"} <= names
    assert "meta" not in reply.body
