"""Product images: sniffed uploads, size and count caps, reorder, download."""

from __future__ import annotations

import aiohttp

from .conftest import make_product

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64


def form(data: bytes, filename: str = "x.png", content_type: str = "image/png") -> aiohttp.FormData:
    payload = aiohttp.FormData()
    payload.add_field("file", data, filename=filename, content_type=content_type)
    return payload


async def test_upload_sniffs_and_downloads(api):
    product = await make_product(api, "Gallery")
    pid = product["id"]
    kinds = {}
    # the filename and declared type lie; the bytes decide
    for data, expected in (
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
    ):
        reply = await api.post(
            f"/products/{pid}/images", data=form(data, "photo.txt", "application/octet-stream")
        )
        assert reply.status == 201, reply.body
        kinds[reply.data["id"]] = (expected, data)
        assert reply.data["content_type"] == expected
        assert "storage_key" not in reply.data
        assert "path" not in reply.data
    listed = (await api.get(f"/products/{pid}/images")).data
    assert [i["sort_order"] for i in listed] == [0, 1, 2, 3]
    detail = (await api.get(f"/products/{pid}")).data
    assert detail["image_url"] == listed[0]["url"]
    assert [i["id"] for i in detail["images"]] == [i["id"] for i in listed]
    for image in listed:
        raw = await api.get(f"/products/{pid}/images/{image['id']}", key="read")
        assert raw.status == 200
        assert raw.headers["Content-Type"] == kinds[image["id"]][0]
        assert raw.headers["Cache-Control"] == "public, max-age=86400"
        assert raw.body == kinds[image["id"]][1]
    assert image["url"] == f"/public/v1/products/{pid}/images/{image['id']}"

    order = [i["id"] for i in reversed(listed)]
    reordered = await api.put(f"/products/{pid}/images/order", json={"order": order})
    assert reordered.status == 200
    assert [i["id"] for i in reordered.data] == order
    assert (await api.get(f"/products/{pid}")).data["image_url"].endswith(order[0])
    for bad in (order[:-1], [*order, order[0]], [*order[:-1], "nope"], []):
        reply = await api.put(f"/products/{pid}/images/order", json={"order": bad})
        assert reply.status == 400, bad
        assert reply.code == "INVALID_ORDER", bad

    deleted = await api.delete(f"/products/{pid}/images/{order[0]}")
    assert deleted.status == 200
    gone = await api.get(f"/products/{pid}/images/{order[0]}")
    assert gone.status == 404
    assert gone.code == "IMAGE_NOT_FOUND"
    assert (await api.get(f"/products/{pid}")).data["image_url"].endswith(order[1])


async def test_upload_rejections(api):
    pid = (await make_product(api, "Strict"))["id"]
    fake = await api.post(
        f"/products/{pid}/images", data=form(b"<svg></svg>", "x.png", "image/png")
    )
    assert fake.status == 400
    assert fake.code == "INVALID_FILE_TYPE"
    empty = await api.post(f"/products/{pid}/images", data=form(b"", "x.png"))
    assert empty.status == 400
    big = await api.post(f"/products/{pid}/images", data=form(PNG + b"\x00" * (5 * 1024 * 1024)))
    assert big.status == 413
    assert big.code == "FILE_TOO_LARGE"
    exact = await api.post(
        f"/products/{pid}/images", data=form(PNG + b"\x00" * (5 * 1024 * 1024 - len(PNG)))
    )
    assert exact.status == 201
    as_json = await api.post(f"/products/{pid}/images", json={"file": "x"})
    assert as_json.status == 400
    assert as_json.code == "INVALID_CONTENT_TYPE"
    no_file = aiohttp.FormData(default_to_multipart=True)
    no_file.add_field("note", "hello")
    missing = await api.post(f"/products/{pid}/images", data=no_file)
    assert missing.status == 400
    assert missing.code == "NO_FILE"
    unknown = await api.post("/products/nope/images", data=form(PNG))
    assert unknown.status == 404
    assert unknown.code == "PRODUCT_NOT_FOUND"


async def test_twenty_image_cap(api):
    pid = (await make_product(api, "Capped"))["id"]
    for _ in range(20):
        assert (await api.post(f"/products/{pid}/images", data=form(PNG))).status == 201
    over = await api.post(f"/products/{pid}/images", data=form(PNG))
    assert over.status == 409
    assert over.code == "IMAGE_CAP_REACHED"
    assert len((await api.get(f"/products/{pid}/images")).data) == 20


async def test_malformed_multipart_is_a_400(empty_api):
    pid = (await make_product(empty_api, "Mangled"))["id"]
    for content_type, data in (
        ("multipart/form-data", b"garbage"),
        ("multipart/form-data; boundary=xyz", b"garbage"),
        ("multipart/form-data; boundary=xyz", b""),
    ):
        reply = await empty_api.post(
            f"/products/{pid}/images", data=data, headers={"Content-Type": content_type}
        )
        assert reply.status == 400, reply.body
        assert reply.code == "VALIDATION_ERROR"
