"""Files API (reference 3.6) against the real server: upload flow, metadata,
versions, thumbnails, parse-metadata, scopes, validation and malformed input."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, insert, select, update

from apf_core.storage.tables.catalogue import products
from apf_core.storage.tables.spine import events, file_versions, print_files, upload_tokens
from apf_core.timeutil import new_id, utcnow
from tests.files import samples

FILE_FIELDS = {
    "id",
    "name",
    "product_id",
    "file_size_bytes",
    "number_of_units",
    "print_time_seconds",
    "filament_weight_grams",
    "filament_length_meters",
    "filament_type",
    "printer_model_id",
    "nozzle_diameter",
    "layer_count",
    "curr_bed_type",
    "default_print_profile",
    "object_count",
    "has_thumbnail",
    "created_at",
    "updated_at",
}
VERSION_FIELDS = {"id", "version_number", "notes", "is_current_version", "created_at"}
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _loopback_sockets() -> None:
    """The Home Assistant test plugin blocks socket creation; these tests talk to a
    real server on 127.0.0.1 (connections stay limited to loopback)."""
    try:
        import pytest_socket
    except ImportError:
        return
    pytest_socket.enable_socket()


# -- sample bytes ------------------------------------------------------------------------


def bambu_3mf(tmp_path: Path, **options: Any) -> bytes:
    return samples.write_bambu_3mf(tmp_path / f"s{len(options)}.gcode.3mf", **options).read_bytes()


def prusa_gcode(tmp_path: Path) -> bytes:
    return samples.write_prusaslicer(tmp_path / "prusa.gcode").read_bytes()


def cura_gcode(tmp_path: Path) -> bytes:
    return samples.write_cura(tmp_path / "cura.gcode").read_bytes()


# -- helpers ------------------------------------------------------------------------------


async def issue(api, filename: str, key: str = "write") -> dict[str, Any]:
    reply = await api.post("/files/upload-url", json={"filename": filename}, key=key)
    assert reply.status == 201, reply.body
    return reply.data


async def put_bytes(api, token: str, data: Any, key: str = "read"):
    return await api.put(
        f"/files/upload/{token}",
        data=data,
        key=key,
        headers={"Content-Type": "application/octet-stream"},
    )


async def uploaded(api, filename: str, data: bytes) -> dict[str, Any]:
    ticket = await issue(api, filename)
    reply = await put_bytes(api, ticket["upload_token"], data)
    assert reply.status == 200, reply.body
    assert reply.data == {"size_bytes": len(data)}
    return ticket


async def create_file(api, filename: str, data: bytes, **extra: Any) -> dict[str, Any]:
    ticket = await uploaded(api, filename, data)
    reply = await api.post(
        "/files",
        json={"name": filename, "storage_key": ticket["storage_key"], **extra},
        key="write",
    )
    assert reply.status == 201, reply.body
    return reply.data


def disk_files(api) -> set[str]:
    root = api.farm.settings.files_dir
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


async def row_counts(api) -> tuple[int, int]:
    async with api.farm.db.read() as conn:
        files = await conn.scalar(select(func.count()).select_from(print_files))
        versions = await conn.scalar(select(func.count()).select_from(file_versions))
    return int(files or 0), int(versions or 0)


async def oversized_body(total: int) -> AsyncIterator[bytes]:
    chunk = b"G1 X1 Y1 E0.1\n" * (MB // 14)
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)


# -- the upload flow -------------------------------------------------------------------------


async def test_upload_url_shape(api) -> None:
    ticket = await issue(api, "Cube_PLA.gcode.3mf")

    assert set(ticket) == {
        "file_id",
        "filename",
        "upload_token",
        "content_type",
        "expires_in",
        "upload_url",
        "storage_key",
    }
    assert ticket["filename"] == "Cube_PLA.gcode.3mf"
    assert ticket["expires_in"] == 3600
    assert ticket["content_type"].startswith("application/vnd.ms-package.3dmanufacturing")
    assert ticket["upload_url"] == f"{api.server.api}/files/upload/{ticket['upload_token']}"
    assert ticket["storage_key"].endswith("/Cube_PLA.gcode.3mf")
    async with api.farm.db.read() as conn:
        stored = (await conn.execute(select(upload_tokens))).mappings().all()
    dumped = repr([dict(r) for r in stored])
    assert ticket["upload_token"] not in dumped  # only the hash is kept
    assert hashlib.sha256(ticket["upload_token"].encode()).hexdigest() in dumped


async def test_upload_url_derives_content_type(api) -> None:
    for filename, content_type in (
        ("benchy.gcode", "text/x.gcode"),
        ("part.stl", "model/stl"),
        ("scene.obj", "model/obj"),
        ("model.AMF", "application/x-amf"),
        ("project.3mf", "application/vnd.ms-package.3dmanufacturing-3dmodel+xml"),
    ):
        assert (await issue(api, filename))["content_type"] == content_type


async def test_upload_url_keeps_a_given_content_type(api) -> None:
    reply = await api.post(
        "/files/upload-url", json={"filename": "a.gcode", "content_type": "text/plain"}, key="write"
    )
    assert reply.data["content_type"] == "text/plain"


async def test_upload_url_validation(api) -> None:
    for body in (
        {},
        {"filename": ""},
        {"filename": "x" * 250 + ".gcode"},
        {"filename": "../escape.gcode"},
        {"filename": "dir/part.gcode"},
        {"filename": "dir\\part.gcode"},
        {"filename": "part.exe"},
        {"filename": "part"},
        {"filename": ".gcode"},
        {"filename": "nul\x00.gcode"},
        {"filename": " padded.gcode"},
        {"filename": 42},
        {"filename": "ok.gcode", "surprise": 1},
    ):
        reply = await api.post("/files/upload-url", json=body, key="write")

        assert (reply.status, reply.code) == (400, "VALIDATION_ERROR"), (body, reply.body)
        fields = {d["field"] for d in reply.body["details"]}
        assert fields & {"filename", "surprise"}, body


async def test_bambu_3mf_upload_creates_file_version_and_thumbnail(api, tmp_path) -> None:
    data = bambu_3mf(tmp_path)
    before = disk_files(api)
    ticket = await uploaded(api, "Cube_PLA.gcode.3mf", data)

    reply = await api.post(
        "/files",
        json={
            "name": "Cube_PLA.gcode.3mf",
            "storage_key": ticket["storage_key"],
            "number_of_units": 4,
        },
        key="write",
    )

    assert reply.status == 201, reply.body
    file = reply.data
    assert set(file) == FILE_FIELDS
    assert file["id"] == ticket["file_id"]
    assert file["name"] == "Cube_PLA.gcode.3mf"
    assert file["file_size_bytes"] == len(data)
    assert file["number_of_units"] == 4
    assert file["print_time_seconds"] == 5450
    assert file["filament_weight_grams"] == 17.32
    assert file["filament_length_meters"] == pytest.approx(5.45)
    assert file["filament_type"] == "PLA"
    assert file["printer_model_id"] == "C12"
    assert file["nozzle_diameter"] == 0.4
    assert file["layer_count"] == samples.BAMBU_LAYERS
    assert file["curr_bed_type"] == "Textured PEI Plate"
    assert file["default_print_profile"] == "0.20mm Standard @BBL X1C"
    assert file["object_count"] == 2
    assert file["has_thumbnail"] is True

    detail = (await api.get(f"/files/{file['id']}", key="read")).data
    assert detail["versions"] == [
        {
            "id": detail["versions"][0]["id"],
            "version_number": 1,
            "notes": None,
            "is_current_version": True,
            "created_at": detail["versions"][0]["created_at"],
        }
    ]
    thumb = await api.get(f"/files/{file['id']}/thumbnail", key="read")
    assert thumb.status == 200
    assert thumb.body == samples.make_png(64, 64, seed=1)
    assert thumb.headers["Content-Type"] == "image/png"
    assert thumb.headers["Cache-Control"] == "public, max-age=86400"

    # bytes moved into the version folder; nothing left in the upload area
    added = disk_files(api) - before
    assert added == {f"{file['id']}/v1/Cube_PLA.gcode.3mf", f"{file['id']}/v1/thumbnail.png"}
    async with api.farm.db.read() as conn:
        key = await conn.scalar(
            select(file_versions.c.storage_key).where(file_versions.c.file_id == file["id"])
        )
        created_events = await conn.scalar(
            select(func.count()).select_from(events).where(events.c.type == "file.created")
        )
    assert (api.farm.settings.files_dir / key).read_bytes() == data  # what jobs will send
    assert created_events == 1


async def test_never_exposes_storage_paths(api, tmp_path) -> None:
    file = await create_file(api, "part.gcode", prusa_gcode(tmp_path))
    blobs = [
        repr(file),
        repr((await api.get(f"/files/{file['id']}", key="read")).body),
        repr((await api.get("/files", key="read")).body),
        repr((await api.get(f"/files/{file['id']}/versions", key="read")).body),
    ]
    for blob in blobs:
        assert "storage_key" not in blob
        assert "thumbnail_key" not in blob
        assert "/v1/" not in blob
        assert "uploads/" not in blob
        assert "http" not in blob


async def test_upload_needs_any_valid_key_not_write(api, tmp_path) -> None:
    ticket = await issue(api, "p.gcode")
    for key in ("read", "control"):
        reply = await put_bytes(api, ticket["upload_token"], prusa_gcode(tmp_path), key=key)
        assert reply.status == 200, (key, reply.body)
    for key, code in (
        ("revoked", "TOKEN_REVOKED"),
        ("expired", "TOKEN_EXPIRED"),
        ("invalid", "TOKEN_INVALID"),
        (None, "UNAUTHORIZED"),
    ):
        reply = await put_bytes(api, ticket["upload_token"], b"G28\n", key=key)
        assert reply.status == 401
        assert reply.code == code


async def test_upload_with_unknown_or_expired_token(api, tmp_path) -> None:
    reply = await put_bytes(api, "not-a-real-token", b"G28\n")
    assert reply.status == 401
    assert reply.code == "UPLOAD_TOKEN_INVALID"

    ticket = await issue(api, "late.gcode")
    async with api.farm.db.begin() as conn:
        await conn.execute(
            update(upload_tokens)
            .where(
                upload_tokens.c.token_hash
                == hashlib.sha256(ticket["upload_token"].encode()).hexdigest()
            )
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    before = disk_files(api)
    reply = await put_bytes(api, ticket["upload_token"], prusa_gcode(tmp_path))
    assert reply.status == 401
    assert reply.code == "UPLOAD_TOKEN_EXPIRED"
    assert disk_files(api) == before


async def test_token_replay_overwrites_the_upload(api, tmp_path) -> None:
    ticket = await issue(api, "replay.gcode")
    first = await put_bytes(api, ticket["upload_token"], prusa_gcode(tmp_path))
    cura = cura_gcode(tmp_path)
    second = await put_bytes(api, ticket["upload_token"], cura)
    assert first.status == second.status == 200
    assert second.data == {"size_bytes": len(cura)}

    file = (
        await api.post(
            "/files",
            json={"name": "replay.gcode", "storage_key": ticket["storage_key"]},
            key="write",
        )
    ).data

    assert file["printer_model_id"] == "Creality Ender-3 V2"  # the replayed Cura bytes
    assert file["file_size_bytes"] == len(cura)
    # the token is used up once the file exists
    again = await put_bytes(api, ticket["upload_token"], cura)
    assert again.status == 401
    assert again.code == "UPLOAD_TOKEN_USED"
    assert "already used" in again.body["error"] and file["id"] in again.body["error"]
    reuse = await api.post(
        "/files", json={"name": "replay.gcode", "storage_key": ticket["storage_key"]}, key="write"
    )
    assert reuse.status == 400
    assert reuse.code == "UPLOAD_ALREADY_USED"
    assert reuse.body["error"].startswith("storage_key:") and "already used" in reuse.body["error"]


async def test_used_tokens_are_purged_after_expiry_leaving_the_file(api, tmp_path) -> None:
    file = await create_file(api, "kept.gcode", prusa_gcode(tmp_path))
    async with api.farm.db.begin() as conn:
        used = (
            await conn.execute(select(upload_tokens).where(upload_tokens.c.file_id == file["id"]))
        ).mappings().one()
        assert used["used_at"] is not None  # kept, so a replay can be told it was used
        await conn.execute(
            update(upload_tokens)
            .where(upload_tokens.c.file_id == file["id"])
            .values(expires_at=utcnow() - timedelta(days=2))
        )
    before = disk_files(api)
    await issue(api, "next.gcode")  # issuing purges what expired past the grace
    async with api.farm.db.read() as conn:
        left = await conn.scalar(
            select(func.count()).where(upload_tokens.c.file_id == file["id"])
        )
    assert left == 0
    assert disk_files(api) == before
    download = await api.get(f"/files/{file['id']}/download", key="read")
    assert download.status == 200


async def test_oversize_stream_is_refused_and_leaves_nothing(api) -> None:
    ticket = await issue(api, "huge.gcode")
    before = disk_files(api)

    reply = await put_bytes(api, ticket["upload_token"], oversized_body(100 * MB + 2 * MB))

    assert reply.status == 413
    assert reply.code == "PAYLOAD_TOO_LARGE"
    assert disk_files(api) == before
    create = await api.post(
        "/files", json={"name": "huge.gcode", "storage_key": ticket["storage_key"]}, key="write"
    )
    assert create.status == 400
    assert create.code == "UPLOAD_MISSING"


async def test_exactly_the_limit_is_accepted(api) -> None:
    """100 MB is allowed (streamed, never held in memory)."""
    ticket = await issue(api, "max.gcode")

    async def body() -> AsyncIterator[bytes]:
        block = b"G1 X1 Y1\n" * (MB // 9) + b"\n" * (MB % 9)
        for _ in range(100):
            yield block

    reply = await put_bytes(api, ticket["upload_token"], body())

    assert reply.status == 200
    assert reply.data == {"size_bytes": 100 * MB}


# -- POST /files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data_kind"),
    [
        ("cut.gcode.3mf", "truncated_3mf"),
        ("noise.gcode", "garbage"),
        ("cut.gcode", "cut_thumb"),
        ("md5.gcode.3mf", "bad_md5"),
    ],
)
async def test_malformed_files_leave_nothing_behind(api, tmp_path, name, data_kind) -> None:
    full_3mf = bambu_3mf(tmp_path)
    gcode = prusa_gcode(tmp_path)
    data = {
        "truncated_3mf": full_3mf[: len(full_3mf) // 2],
        "garbage": bytes(range(256)) * 400,
        "cut_thumb": gcode[: gcode.index(b"; thumbnail begin 313x173") + 4000],
        "bad_md5": bambu_3mf(tmp_path, md5="0" * 32),
    }[data_kind]
    counts = await row_counts(api)
    before = disk_files(api)
    ticket = await uploaded(api, name, data)

    reply = await api.post(
        "/files", json={"name": name, "storage_key": ticket["storage_key"]}, key="write"
    )

    assert (reply.status, reply.code) == (400, "INVALID_FILE"), reply.body
    assert reply.body["error"]  # a clear message from the parser
    assert await row_counts(api) == counts
    assert disk_files(api) == before  # not even the uploaded bytes
    assert (await api.get(f"/files/{ticket['file_id']}", key="read")).code == "FILE_NOT_FOUND"


async def test_create_validation(api, tmp_path) -> None:
    ticket = await uploaded(api, "part.gcode", prusa_gcode(tmp_path))
    key = ticket["storage_key"]
    cases = [
        ({"storage_key": key}, 400, "VALIDATION_ERROR"),
        ({"name": "other.gcode", "storage_key": key}, 400, "VALIDATION_ERROR"),
        ({"name": "part.gcode", "storage_key": key, "number_of_units": 0}, 400, "VALIDATION_ERROR"),
        (
            {"name": "part.gcode", "storage_key": key, "number_of_units": "2"},
            400,
            "VALIDATION_ERROR",
        ),
        ({"name": "part.gcode", "storage_key": "../../etc/part.gcode"}, 400, "INVALID_STORAGE_KEY"),
        (
            {"name": "part.gcode", "storage_key": f"uploads/{new_id()}/part.gcode"},
            400,
            "INVALID_STORAGE_KEY",
        ),
        (
            {"name": "part.gcode", "storage_key": key, "product_id": new_id()},
            404,
            "PRODUCT_NOT_FOUND",
        ),
    ]
    for body, status, code in cases:
        reply = await api.post("/files", json=body, key="write")
        assert (reply.status, reply.code) == (status, code), (body, reply.body)
    # none of the failures consumed the upload
    ok = await api.post("/files", json={"name": "part.gcode", "storage_key": key}, key="write")
    assert ok.status == 201


async def test_create_before_upload(api) -> None:
    ticket = await issue(api, "early.gcode")
    reply = await api.post(
        "/files", json={"name": "early.gcode", "storage_key": ticket["storage_key"]}, key="write"
    )
    assert reply.status == 400
    assert reply.code == "UPLOAD_MISSING"


async def test_create_with_product(api, tmp_path) -> None:
    product_id = new_id()
    now = utcnow()
    async with api.farm.db.begin() as conn:
        await conn.execute(
            insert(products).values(id=product_id, name="Widget", created_at=now, updated_at=now)
        )
    file = await create_file(api, "widget.gcode", prusa_gcode(tmp_path), product_id=product_id)
    assert file["product_id"] == product_id
    listed = (await api.get("/files", key="read", params={"product_id": product_id})).data
    assert [f["id"] for f in listed] == [file["id"]]


async def test_mesh_files_are_stored_without_metadata(api) -> None:
    file = await create_file(api, "bracket.stl", samples.binary_stl(20))

    assert file["object_count"] == 1
    assert file["print_time_seconds"] is None
    assert file["has_thumbnail"] is False
    thumb = await api.get(f"/files/{file['id']}/thumbnail", key="read")
    assert thumb.status == 404
    assert thumb.code == "NO_THUMBNAIL"


# -- reads ----------------------------------------------------------------------------------


async def test_list_filters_and_pagination(empty_api, tmp_path) -> None:
    api = empty_api
    prusa = await create_file(api, "prusa.gcode", prusa_gcode(tmp_path))
    multi = await create_file(api, "multi.gcode.3mf", bambu_3mf(tmp_path, two_filaments=True))
    cura = await create_file(api, "cura.gcode", cura_gcode(tmp_path))

    everything = await api.get("/files", key="read")
    assert [f["id"] for f in everything.data] == [cura["id"], multi["id"], prusa["id"]]
    assert everything.body["meta"] == {"limit": 50, "offset": 0, "count": 3}
    assert all(set(f) == FILE_FIELDS for f in everything.data)

    page = await api.get("/files", key="read", params={"limit": 1, "offset": 1})
    assert [f["id"] for f in page.data] == [multi["id"]]
    assert page.body["meta"] == {"limit": 1, "offset": 1, "count": 1}

    async def ids(**params: str) -> list[str]:
        return [f["id"] for f in (await api.get("/files", key="read", params=params)).data]

    assert await ids(filament_type="pla") == [multi["id"], prusa["id"]]
    assert await ids(filament_type="PETG") == [multi["id"]]
    assert await ids(filament_type="ABS") == []
    assert await ids(model_id="MK4S") == [prusa["id"]]
    assert await ids(model_id="c12") == [multi["id"]]
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        reply = await api.get("/files", key="read", params=params)
        assert reply.status == 400
        assert reply.code == "VALIDATION_ERROR"


async def test_not_found(api) -> None:
    missing = new_id()
    for path in (f"/files/{missing}", f"/files/{missing}/versions", f"/files/{missing}/thumbnail"):
        reply = await api.get(path, key="read")
        assert (reply.status, reply.code) == (404, "FILE_NOT_FOUND"), path
    reply = await api.put(f"/files/{missing}/versions/1/current", key="write")
    assert reply.status == 404
    assert reply.code == "FILE_NOT_FOUND"


async def test_demo_files_are_listed(api) -> None:
    names = {f["name"] for f in (await api.get("/files", key="read")).data}
    assert {"benchy.gcode", "phone-stand.gcode", "cable-clip.gcode"} <= names


# -- versions ------------------------------------------------------------------------------


async def test_versions_add_list_and_switch(api, tmp_path) -> None:
    file = await create_file(api, "part.gcode", prusa_gcode(tmp_path))
    ticket = await uploaded(api, "part_v2.gcode", cura_gcode(tmp_path))

    added = await api.post(
        f"/files/{file['id']}/versions",
        json={"storage_key": ticket["storage_key"], "notes": "Cura re-slice"},
        key="write",
    )

    assert added.status == 201, added.body
    assert set(added.data) == VERSION_FIELDS
    assert added.data["version_number"] == 2
    assert added.data["is_current_version"] is True
    assert added.data["notes"] == "Cura re-slice"
    current = (await api.get(f"/files/{file['id']}", key="read")).data
    assert current["printer_model_id"] == "Creality Ender-3 V2"  # parent follows v2
    assert current["name"] == "part.gcode"
    thumb = await api.get(f"/files/{file['id']}/thumbnail", key="read")
    assert thumb.body == samples.make_png(300, 300, seed=5)

    listed = (await api.get(f"/files/{file['id']}/versions", key="read")).data
    assert [(v["version_number"], v["is_current_version"]) for v in listed] == [
        (2, True),
        (1, False),
    ]

    back = await api.put(f"/files/{file['id']}/versions/1/current", key="write")
    assert back.status == 200
    assert back.data["version_number"] == 1
    assert back.data["is_current_version"] is True
    restored = (await api.get(f"/files/{file['id']}", key="read")).data
    assert restored["printer_model_id"] == "MK4S"
    assert restored["print_time_seconds"] == 3723
    thumb = await api.get(f"/files/{file['id']}/thumbnail", key="read")
    assert thumb.body == samples.make_png(313, 173, seed=313)

    by_id = await api.put(f"/files/{file['id']}/versions/{added.data['id']}/current", key="write")
    assert by_id.status == 200
    assert by_id.data["version_number"] == 2
    missing = await api.put(f"/files/{file['id']}/versions/9/current", key="write")
    assert missing.status == 404
    assert missing.code == "VERSION_NOT_FOUND"


async def test_version_not_made_current(api, tmp_path) -> None:
    file = await create_file(api, "part.gcode", prusa_gcode(tmp_path))
    ticket = await uploaded(api, "later.gcode", cura_gcode(tmp_path))

    added = await api.post(
        f"/files/{file['id']}/versions",
        json={"storage_key": ticket["storage_key"], "set_as_current": False},
        key="write",
    )

    assert added.status == 201
    assert added.data["is_current_version"] is False
    assert (await api.get(f"/files/{file['id']}", key="read")).data["printer_model_id"] == "MK4S"


async def test_version_validation_and_malformed_version(api, tmp_path) -> None:
    file = await create_file(api, "part.gcode", prusa_gcode(tmp_path))
    stl = await uploaded(api, "part.stl", samples.binary_stl(3))
    reply = await api.post(
        f"/files/{file['id']}/versions", json={"storage_key": stl["storage_key"]}, key="write"
    )
    assert reply.status == 400
    assert reply.code == "VALIDATION_ERROR"
    assert reply.body["details"][0]["field"] == "storage_key"

    for body in (
        {},
        {"storage_key": stl["storage_key"], "notes": "x" * 501},
        {"storage_key": stl["storage_key"], "set_as_current": "yes"},
    ):
        reply = await api.post(f"/files/{file['id']}/versions", json=body, key="write")
        assert (reply.status, reply.code) == (400, "VALIDATION_ERROR"), body

    counts = await row_counts(api)
    before = disk_files(api)
    bad = await uploaded(api, "bad.gcode", b"\x00\x01\x02" * 1000)
    reply = await api.post(
        f"/files/{file['id']}/versions", json={"storage_key": bad["storage_key"]}, key="write"
    )
    assert reply.status == 400
    assert reply.code == "INVALID_FILE"
    assert await row_counts(api) == counts
    assert disk_files(api) == before
    assert not (api.farm.settings.files_dir / file["id"] / "v2").exists()

    unknown = await api.post(
        f"/files/{new_id()}/versions", json={"storage_key": bad["storage_key"]}, key="write"
    )
    assert unknown.status == 404
    assert unknown.code == "FILE_NOT_FOUND"


async def test_demo_version_without_metadata_can_be_made_current(api) -> None:
    demo = next(
        f for f in (await api.get("/files", key="read")).data if f["name"] == "benchy.gcode"
    )
    reply = await api.put(f"/files/{demo['id']}/versions/1/current", key="write")
    assert reply.status == 200
    after = (await api.get(f"/files/{demo['id']}", key="read")).data
    assert after["layer_count"] == demo["layer_count"]


# -- parse-metadata -------------------------------------------------------------------------


def multipart(data: bytes, filename: str, field: str = "file") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("note", "ignored")
    form.add_field(field, data, filename=filename, content_type="application/octet-stream")
    return form


async def test_parse_metadata_persists_nothing(api, tmp_path) -> None:
    counts = await row_counts(api)
    before = disk_files(api)
    data = bambu_3mf(tmp_path)

    reply = await api.post(
        "/files/parse-metadata", data=multipart(data, "Cube.gcode.3mf"), key="read"
    )

    assert reply.status == 200, reply.body
    meta = reply.data
    assert meta["name"] == "Cube.gcode.3mf"
    assert meta["file_size_bytes"] == len(data)
    assert meta["print_time_seconds"] == 5450
    assert meta["layer_count"] == samples.BAMBU_LAYERS
    assert meta["printer_model_id"] == "C12"
    assert meta["slicer"] == "BambuStudio"
    assert meta["has_thumbnail"] is True
    assert "thumbnail" not in meta
    assert await row_counts(api) == counts
    assert disk_files(api) == before


async def test_parse_metadata_gcode(api, tmp_path) -> None:
    reply = await api.post(
        "/files/parse-metadata", data=multipart(cura_gcode(tmp_path), "c.gcode"), key="write"
    )
    assert reply.status == 403  # read scope, not write
    reply = await api.post(
        "/files/parse-metadata", data=multipart(cura_gcode(tmp_path), "c.gcode"), key="read"
    )
    assert reply.data["slicer"] == "Cura"
    assert reply.data["print_time_seconds"] == 1375


async def test_parse_metadata_errors(api, tmp_path) -> None:
    before = disk_files(api)
    unsupported = await api.post(
        "/files/parse-metadata", data=multipart(samples.binary_stl(3), "part.stl"), key="read"
    )
    assert unsupported.status == 400
    assert unsupported.code == "UNSUPPORTED_FILE_TYPE"
    broken = await api.post(
        "/files/parse-metadata", data=multipart(bambu_3mf(tmp_path)[:3000], "cut.3mf"), key="read"
    )
    assert broken.status == 400
    assert broken.code == "INVALID_FILE"
    assert "zip" in broken.body["error"]
    missing = await api.post(
        "/files/parse-metadata", data=multipart(b"G28\n", "a.gcode", field="upload"), key="read"
    )
    assert missing.status == 400
    assert missing.code == "VALIDATION_ERROR"
    as_json = await api.post("/files/parse-metadata", json={"file": "G28"}, key="read")
    assert as_json.status == 400
    assert as_json.code == "VALIDATION_ERROR"
    assert disk_files(api) == before


async def test_parse_metadata_oversize_stream(api) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield (
            b'--BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="big.gcode"'
            b"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        async for chunk in oversized_body(100 * MB + MB):
            yield chunk
        yield b"\r\n--BOUNDARY--\r\n"

    before = disk_files(api)
    reply = await api.post(
        "/files/parse-metadata",
        data=body(),
        key="read",
        headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
    )
    assert reply.status == 413
    assert reply.code == "PAYLOAD_TOO_LARGE"
    assert disk_files(api) == before


# -- scopes ---------------------------------------------------------------------------------


async def test_scope_matrix(api, tmp_path) -> None:
    file = await create_file(api, "p.gcode", prusa_gcode(tmp_path))
    ticket = await uploaded(api, "q.gcode", prusa_gcode(tmp_path))
    reads = [
        "/files",
        f"/files/{file['id']}",
        f"/files/{file['id']}/versions",
        f"/files/{file['id']}/thumbnail",
    ]
    for path in reads:
        assert (await api.get(path, key="read")).status == 200, path
        denied = await api.get(path, key="write")
        assert denied.status == 403
        assert denied.code == "INSUFFICIENT_SCOPE"
    writes = [
        ("POST", "/files/upload-url", {"filename": "x.gcode"}),
        ("POST", "/files", {"name": "q.gcode", "storage_key": ticket["storage_key"]}),
        ("POST", f"/files/{file['id']}/versions", {"storage_key": ticket["storage_key"]}),
        ("PUT", f"/files/{file['id']}/versions/1/current", None),
    ]
    for method, path, body in writes:
        for key in ("read", "control"):
            denied = await api.request(method, path, json=body, key=key)
            assert denied.status == 403, (method, path, key)
            assert denied.body["error"] == "API key missing required scope: write"


async def test_concurrent_creates_from_one_upload(api, tmp_path) -> None:
    """Only one file comes out of one upload; the loser leaves the winner intact."""
    import asyncio

    data = bambu_3mf(tmp_path)
    ticket = await uploaded(api, "race.gcode.3mf", data)
    body = {"name": "race.gcode.3mf", "storage_key": ticket["storage_key"]}

    replies = await asyncio.gather(*(api.post("/files", json=body, key="write") for _ in range(4)))

    statuses = sorted(r.status for r in replies)
    assert statuses == [201, 400, 400, 400]
    assert {r.code for r in replies if r.status == 400} <= {"UPLOAD_MISSING", "INVALID_STORAGE_KEY"}
    file_id = ticket["file_id"]
    assert (await api.get(f"/files/{file_id}/thumbnail", key="read")).status == 200
    stored = api.farm.settings.files_dir / file_id / "v1" / "race.gcode.3mf"
    assert stored.read_bytes() == data


async def test_bad_keys_on_every_files_route(api) -> None:
    file_id = new_id()
    routes = [
        ("GET", "/files"),
        ("POST", "/files/upload-url"),
        ("PUT", "/files/upload/some-token"),
        ("POST", "/files"),
        ("POST", "/files/parse-metadata"),
        ("GET", f"/files/{file_id}"),
        ("GET", f"/files/{file_id}/versions"),
        ("POST", f"/files/{file_id}/versions"),
        ("PUT", f"/files/{file_id}/versions/1/current"),
        ("GET", f"/files/{file_id}/thumbnail"),
    ]
    bad_keys = {
        None: "UNAUTHORIZED",
        "malformed": "TOKEN_INVALID",
        "invalid": "TOKEN_INVALID",
        "revoked": "TOKEN_REVOKED",
        "expired": "TOKEN_EXPIRED",
    }
    for method, path in routes:
        for key, code in bad_keys.items():
            reply = await api.request(method, path, key=key, json={})
            assert (reply.status, reply.code) == (401, code), (method, path, key)


async def test_parse_metadata_of_a_multi_megabyte_file(api, tmp_path) -> None:
    """Multipart bodies are streamed: far above the 1 MiB JSON body limit is fine."""
    path = tmp_path / "big.gcode"
    layers = samples.write_large_prusaslicer(path, 5 * MB)

    reply = await api.post(
        "/files/parse-metadata", data=multipart(path.read_bytes(), "big.gcode"), key="read"
    )

    assert reply.status == 200, reply.body
    assert reply.data["file_size_bytes"] == path.stat().st_size
    assert reply.data["layer_count"] == layers
