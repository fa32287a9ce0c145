"""Products, SKUs, colours and components."""

from __future__ import annotations

from .conftest import fg_of, file_ids, make_product, make_sku

PRODUCT_KEYS = {
    "id",
    "name",
    "description",
    "category",
    "requires_assembly",
    "requires_post_processing",
    "image_url",
    "images",
    "is_active",
    "created_at",
    "updated_at",
}
SKU_KEYS = {
    "id",
    "product_id",
    "sku",
    "color",
    "filament_type",
    "hex_code",
    "quantity",
    "stock_level",
    "low_stock_threshold",
    "is_active",
    "is_composite",
    "created_at",
    "updated_at",
    "finished_goods_stock",
}


async def test_product_then_sku_creates_finished_good(api):
    product = await make_product(api, "Planter", category="Home", description="A pot")
    assert set(product) >= PRODUCT_KEYS
    assert product["image_url"] is None
    assert product["images"] == []
    assert product["created_at"].endswith("Z")
    sku = await make_sku(
        api, product["id"], "PLANT-W", color="White", filament_type="PLA", hex_code="#ffffff"
    )
    assert set(sku) >= SKU_KEYS
    assert sku["hex_code"] == "#FFFFFF"
    assert sku["finished_goods_stock"] == 0
    fg = await fg_of(api, sku["id"])
    assert fg["ready_stock"] == 0
    assert fg["status"] == "out_of_stock"
    assert fg["sku"] == "PLANT-W"
    nested = await api.post(
        f"/products/{product['id']}/skus", json={"sku": "PLANT-B", "color": "Black"}
    )
    assert nested.status == 201
    assert nested.data["product_id"] == product["id"]
    detail = (await api.get(f"/products/{product['id']}")).data
    assert [s["sku"] for s in detail["skus"]] == ["PLANT-B", "PLANT-W"]
    assert detail["components"] == []
    assert detail["kit"] is None


async def test_duplicates(api):
    product = await make_product(api, "Lamp")
    dup = await api.post("/products", json={"name": "lamp"})
    assert dup.status == 409
    assert dup.code == "DUPLICATE_NAME"
    other = await make_product(api, "Shade")
    renamed = await api.patch(f"/products/{other['id']}", json={"name": "LAMP"})
    assert renamed.status == 409
    assert renamed.code == "DUPLICATE_NAME"
    await make_sku(api, product["id"], "LAMP-1")
    dup = await api.post("/skus", json={"product_id": other["id"], "sku": "LAMP-1"})
    assert dup.status == 409
    assert dup.code == "DUPLICATE_SKU"
    second = await make_sku(api, product["id"], "LAMP-2")
    dup = await api.patch(f"/skus/{second['id']}", json={"sku": "LAMP-1"})
    assert dup.status == 409
    assert dup.code == "DUPLICATE_SKU"
    color = await api.post(
        "/colors",
        json={"color_name": "Galaxy Black", "hex_code": "#1a1a2b", "filament_type": "pla"},
    )
    assert color.status == 201, color.body
    assert color.data["hex_code"] == "#1A1A2B"
    assert color.data["filament_type"] == "PLA"
    assert color.data["color_name"] == "GALAXY BLACK"  # stored uppercase, as the reference says
    assert set(color.data) >= {
        "id",
        "color_name",
        "hex_code",
        "filament_type",
        "is_active",
        "created_at",
    }
    again = await api.post(
        "/colors",
        json={"color_name": "galaxy black", "hex_code": "#000000", "filament_type": "PLA"},
    )
    assert again.status == 409
    assert again.code == "DUPLICATE_COLOR"
    petg = await api.post(
        "/colors",
        json={"color_name": "Galaxy Black", "hex_code": "#000000", "filament_type": "PETG"},
    )
    assert petg.status == 201
    clash = await api.patch(f"/colors/{petg.data['id']}", json={"filament_type": "PLA"})
    assert clash.status == 409
    assert clash.code == "DUPLICATE_COLOR"
    bad = await api.post(
        "/colors", json={"color_name": "X", "hex_code": "red", "filament_type": "PLA"}
    )
    assert bad.status == 400
    assert bad.code == "VALIDATION_ERROR"
    assert "hex_code" in bad.body["error"]


async def test_product_list_filters_and_categories(empty_api):
    api = empty_api  # no demo data: exact lists
    await make_product(api, "Alpha", category="Desk", description="holds pens")
    await make_product(api, "Beta", category="Kitchen")
    await make_product(api, "Gamma", category="Desk", is_active=False)
    listed = await api.get("/products", key="read")
    assert listed.body["meta"] == {"limit": 50, "offset": 0, "count": 3}
    assert [p["name"] for p in listed.data] == ["Alpha", "Beta", "Gamma"]
    desk = await api.get("/products", params={"category": "Desk", "is_active": "true"})
    assert [p["name"] for p in desk.data] == ["Alpha"]
    found = await api.get("/products", params={"search": "PENS"})
    assert [p["name"] for p in found.data] == ["Alpha"]
    page = await api.get("/products", params={"limit": 1, "offset": 1})
    assert [p["name"] for p in page.data] == ["Beta"]
    assert page.body["meta"]["count"] == 1
    assert (await api.get("/products/categories")).data == ["Desk", "Kitchen"]
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"is_active": "yes"}):
        reply = await api.get("/products", params=bad)
        assert reply.status == 400, bad
        assert reply.code == "VALIDATION_ERROR", bad


async def test_product_patch_and_print_file(api):
    product = await make_product(api, "Vase")
    patched = await api.patch(
        f"/products/{product['id']}",
        json={
            "description": None,
            "category": "Decor",
            "requires_assembly": True,
            "is_active": False,
        },
    )
    assert patched.status == 200
    assert patched.data["category"] == "Decor"
    assert patched.data["requires_assembly"] is True
    missing = await api.patch(f"/products/{product['id']}", json={"print_file_id": "nope"})
    assert missing.status == 404
    assert missing.code == "PRINT_FILE_NOT_FOUND"
    files = await file_ids(api)
    ok = await api.patch(f"/products/{product['id']}", json={"print_file_id": files[0]})
    assert ok.data["print_file_id"] == files[0]
    empty = await api.patch(f"/products/{product['id']}", json={"name": ""})
    assert empty.status == 400
    assert empty.code == "VALIDATION_ERROR"


async def test_skus_list_detail_patch_adjust(empty_api):
    api = empty_api  # no demo data: exact lists
    product = await make_product(api, "Cup")
    red = await make_sku(
        api, product["id"], "CUP-R", color="Red", filament_type="PLA", low_stock_threshold=2
    )
    await make_sku(api, product["id"], "CUP-B", color="Blue", filament_type="PETG")
    listed = (await api.get("/skus", params={"product_id": product["id"]})).data
    assert [s["sku"] for s in listed] == ["CUP-B", "CUP-R"]
    assert [s["sku"] for s in (await api.get("/skus", params={"color": "Red"})).data] == ["CUP-R"]
    assert [s["sku"] for s in (await api.get("/skus", params={"filament_type": "PETG"})).data] == [
        "CUP-B"
    ]
    detail = (await api.get(f"/skus/{red['id']}")).data
    assert detail["available_to_build"] == 0
    assert detail["effective_status"] == "out_of_stock"
    adjusted = await api.post(
        f"/skus/{red['id']}/adjust", json={"adjustment": 5, "reason": "count"}
    )
    assert adjusted.data == {
        "id": red["id"],
        "previous_stock_level": 0,
        "adjustment": 5,
        "new_stock_level": 5,
        "is_low_stock": False,
        "reason": "count",
    }
    low = await api.post(f"/skus/{red['id']}/adjust", json={"adjustment": -3})
    assert low.data["is_low_stock"] is True
    assert red["id"] in {s["id"] for s in (await api.get("/skus/low-stock")).data}
    assert red["id"] in {
        s["id"] for s in (await api.get("/skus", params={"low_stock": "true"})).data
    }
    negative = await api.post(f"/skus/{red['id']}/adjust", json={"adjustment": -3})
    assert negative.status == 400
    assert negative.code == "INVALID_STOCK_LEVEL"
    assert (await fg_of(api, red["id"]))["ready_stock"] == 0  # FG untouched by SKU adjust
    patched = await api.patch(
        f"/skus/{red['id']}",
        json={
            "color": "Crimson",
            "low_stock_threshold": 0,
            "hex_code": "#aa0000",
            "is_active": False,
        },
    )
    assert patched.status == 200
    assert patched.data["color"] == "Crimson"
    assert patched.data["hex_code"] == "#AA0000"
    assert (await fg_of(api, red["id"]))["low_stock_threshold"] == 0
    immutable = await api.patch(f"/skus/{red['id']}", json={"filament_type": "ABS"})
    assert immutable.status == 400
    assert immutable.code == "VALIDATION_ERROR"
    immutable = await api.patch(f"/skus/{red['id']}", json={"quantity": 2})
    assert immutable.status == 400
    inactive = await api.get("/skus", params={"is_active": "false"})
    assert [s["id"] for s in inactive.data] == [red["id"]]
    missing = await api.post("/skus", json={"product_id": "nope", "sku": "X"})
    assert missing.status == 404
    assert missing.code == "PRODUCT_NOT_FOUND"


async def test_colors_list_and_filament_types(empty_api):
    api = empty_api  # no demo data: exact lists
    for name, ftype in (("Red", "PLA"), ("Blue", "PETG"), ("Green", "PLA")):
        await api.post(
            "/colors", json={"color_name": name, "hex_code": "#112233", "filament_type": ftype}
        )
    listed = await api.get("/colors")
    assert "meta" not in listed.body
    assert len(listed.data) == 3
    pla = await api.get("/colors", params={"filament_type": "PLA"})
    assert {c["color_name"] for c in pla.data} == {"RED", "GREEN"}
    blue = next(c for c in listed.data if c["color_name"] == "BLUE")
    off = await api.patch(f"/colors/{blue['id']}", json={"is_active": False})
    assert off.data["is_active"] is False
    assert (await api.get("/colors/filament-types")).data == ["PLA"]
    assert len((await api.get("/colors", params={"is_active": "false"})).data) == 1
    missing = await api.patch("/colors/nope", json={"is_active": False})
    assert missing.status == 404
    assert missing.code == "COLOR_NOT_FOUND"


async def test_components(api):
    product = await make_product(api, "Shelf")
    added = await api.post(
        f"/products/{product['id']}/components",
        json={
            "components": [
                {
                    "component_name": "M3 screw",
                    "component_type": "hardware",
                    "quantity_required": 4,
                },
                {"component_name": "Label"},
            ]
        },
    )
    assert added.status == 200, added.body
    assert [c["component_name"] for c in added.data] == ["M3 screw", "Label"]
    assert added.data[1]["quantity_required"] == 1
    more = await api.post(
        f"/products/{product['id']}/components", json={"components": [{"component_name": "Magnet"}]}
    )
    assert len(more.data) == 3
    replaced = await api.post(
        f"/products/{product['id']}/components",
        json={"components": [{"component_name": "Bolt"}], "replace": True},
    )
    assert [c["component_name"] for c in replaced.data] == ["Bolt"]
    assert set(replaced.data[0]) == {
        "id",
        "component_name",
        "component_type",
        "quantity_required",
        "notes",
    }
    everything = (await api.get("/products/components")).data
    assert everything[0]["product_id"] == product["id"]
    assert (await api.get(f"/products/{product['id']}")).data["components"][0][
        "component_name"
    ] == "Bolt"
    deleted = await api.delete(f"/products/{product['id']}/components")
    assert deleted.data == {"deleted": 1}
    assert (await api.get(f"/products/{product['id']}/components")).data == []
    bad = await api.post(
        f"/products/{product['id']}/components",
        json={"components": [{"component_name": "X", "quantity_required": 0}]},
    )
    assert bad.status == 400
    assert bad.code == "VALIDATION_ERROR"


async def test_concurrent_duplicates_give_409_not_500(api):
    import asyncio

    product = await make_product(api, "Racer")
    sku_replies = await asyncio.gather(
        *(api.post("/skus", json={"product_id": product["id"], "sku": "RACE-1"}) for _ in range(10))
    )
    assert sorted(r.status for r in sku_replies) == [201] + [409] * 9
    assert {r.code for r in sku_replies if r.status == 409} == {"DUPLICATE_SKU"}
    name_replies = await asyncio.gather(
        *(api.post("/products", json={"name": "Twin"}) for _ in range(10))
    )
    assert sorted(r.status for r in name_replies) == [201] + [409] * 9
    assert {r.code for r in name_replies if r.status == 409} == {"DUPLICATE_NAME"}
    color = {"color_name": "Teal", "hex_code": "#008080", "filament_type": "PLA"}
    color_replies = await asyncio.gather(*(api.post("/colors", json=color) for _ in range(10)))
    assert sorted(r.status for r in color_replies) == [201] + [409] * 9
    assert {r.code for r in color_replies if r.status == 409} == {"DUPLICATE_COLOR"}
