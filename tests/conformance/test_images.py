"""Product image gallery (reference 3.5): sniffed types, 5 MB, 20-image cap, permutation reorder."""

from __future__ import annotations

import struct
import zlib

import aiohttp

from .conftest import REF_PRODUCT_IMAGE, assert_error, product


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


def _form(data: bytes, filename: str, content_type: str = "image/png") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    return form


async def test_gallery_lifecycle(api):
    p = await product(api, "Gallery")
    uploaded = []
    for data, name, ctype in (
        (_png(), "a.png", "image/png"),
        (JPEG, "b.bin", "image/jpeg"),  # sniffed: uploaded as image/png named .bin
        (GIF, "c.gif", "image/gif"),
        (WEBP, "d.webp", "image/webp"),
    ):
        reply = await api.post(f"/products/{p['id']}/images", data=_form(data, name))
        assert reply.status == 201, reply.body
        assert set(reply.data) >= REF_PRODUCT_IMAGE
        uploaded.append((reply.data, ctype))

    listed = (await api.get(f"/products/{p['id']}/images")).data
    assert [i["id"] for i in listed] == [u["id"] for u, _ in uploaded]
    orders = [i["sort_order"] for i in listed]
    assert orders == sorted(orders)
    detail = (await api.get(f"/products/{p['id']}")).data
    assert detail["image_url"] == listed[0]["url"], "the first image is the hero"
    assert [i["id"] for i in detail["images"]] == [i["id"] for i in listed]
    for image in detail["images"]:
        assert set(image) == REF_PRODUCT_IMAGE

    for image, ctype in uploaded:
        raw = await api.get(f"/products/{p['id']}/images/{image['id']}")
        assert raw.status == 200
        assert raw.headers["Content-Type"].startswith(ctype)
        assert "max-age=86400" in raw.headers["Cache-Control"]

    new_order = [listed[2]["id"], listed[0]["id"], listed[3]["id"], listed[1]["id"]]
    reordered = await api.put(f"/products/{p['id']}/images/order", json={"order": new_order})
    assert reordered.status == 200, reordered.body
    assert [i["id"] for i in reordered.data] == new_order
    assert (await api.get(f"/products/{p['id']}")).data["image_url"] == reordered.data[0]["url"]
    for bad in (new_order[:3], [*new_order, new_order[0]], [*new_order[:3], "other"], []):
        assert_error(
            await api.put(f"/products/{p['id']}/images/order", json={"order": bad}),
            400,
            "INVALID_ORDER",
        )

    gone = await api.delete(f"/products/{p['id']}/images/{new_order[0]}")
    assert gone.status == 200
    left = (await api.get(f"/products/{p['id']}/images")).data
    assert [i["id"] for i in left] == new_order[1:]
    assert (await api.get(f"/products/{p['id']}")).data["image_url"] == left[0]["url"]
    missing = await api.get(f"/products/{p['id']}/images/{new_order[0]}")
    assert missing.status == 404 and missing.body["success"] is False


async def test_rejections_and_cap(api):
    p = await product(api, "Capped")
    fake = _form(b"<?php echo 1; ?>", "evil.png")
    assert_error(await api.post(f"/products/{p['id']}/images", data=fake), 400, "INVALID_FILE_TYPE")
    svg = _form(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg", "image/svg+xml")
    assert_error(await api.post(f"/products/{p['id']}/images", data=svg), 400, "INVALID_FILE_TYPE")
    big = _form(_png() + b"\x00" * (5 * 1024 * 1024), "big.png")
    reply = await api.post(f"/products/{p['id']}/images", data=big)
    assert reply.status == 413 and reply.body["success"] is False
    not_multipart = await api.post(f"/products/{p['id']}/images", json={"file": "x"})
    assert not_multipart.status == 400 and not_multipart.body["success"] is False
    empty = aiohttp.FormData()
    empty.add_field("other", "value")
    no_file = await api.post(f"/products/{p['id']}/images", data=empty)
    assert no_file.status == 400 and no_file.body["success"] is False
    assert (await api.get(f"/products/{p['id']}/images")).data == []

    for n in range(20):
        reply = await api.post(f"/products/{p['id']}/images", data=_form(_png(), f"{n}.png"))
        assert reply.status == 201, (n, reply.body)
    assert_error(
        await api.post(f"/products/{p['id']}/images", data=_form(_png(), "21.png")),
        409,
        "IMAGE_CAP_REACHED",
    )
    assert len((await api.get(f"/products/{p['id']}/images")).data) == 20
