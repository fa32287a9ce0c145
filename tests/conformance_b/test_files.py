"""3.6 Files: upload-url -> PUT upload -> POST /files with real slicer output, versions,
set-current, thumbnail, parse-metadata; shapes, codes, paging and hostile input."""

from __future__ import annotations

import asyncio
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.files import samples

from .conftest import (
    REF_FILE,
    REF_UPLOAD_URL,
    REF_VERSION,
    Api,
    assert_error,
    assert_fields,
    assert_list,
    assert_no_leaks,
    assert_validation,
)

PNG = b"\x89PNG\r\n\x1a\n"


def prusa(tmp_path: Path) -> bytes:
    return samples.write_prusaslicer(tmp_path / "prusa.gcode").read_bytes()


def bambu(tmp_path: Path, **options: Any) -> bytes:
    return samples.write_bambu_3mf(tmp_path / "plate.3mf", **options).read_bytes()


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def issue(api: Api, filename: str) -> dict[str, Any]:
    reply = await api.post("/files/upload-url", json={"filename": filename}, key="write")
    assert reply.status == 201, reply.body
    return reply.data


async def put(api: Api, token: str, data: bytes, key: str | None = "read") -> Any:
    return await api.put(
        f"/files/upload/{token}", data=data, key=key,
        headers={"Content-Type": "application/octet-stream"},
    )


async def staged(api: Api, filename: str, data: bytes) -> str:
    """upload-url + PUT; returns the storage_key."""
    ticket = await issue(api, filename)
    reply = await put(api, ticket["upload_token"], data)
    assert reply.status == 200, reply.body
    return str(ticket["storage_key"])


async def create(api: Api, filename: str, data: bytes, **extra: Any) -> Any:
    key = await staged(api, filename, data)
    return await api.post("/files", json={"name": filename, "storage_key": key, **extra})


async def file_count(api: Api) -> int:
    reply = await api.get("/files", params={"limit": 100})
    return len(reply.data)


# --- the happy flow ---------------------------------------------------------------------------


async def test_upload_url_shape(api: Api) -> None:
    reply = await api.post("/files/upload-url", json={"filename": "benchy.gcode"})
    assert reply.status == 201
    data = reply.data
    assert_fields(data, REF_UPLOAD_URL, "upload-url")
    assert data["filename"] == "benchy.gcode"
    assert data["expires_in"] == 3600
    assert data["upload_url"].endswith(f"/public/v1/files/upload/{data['upload_token']}")
    assert data["storage_key"].endswith("/benchy.gcode")
    assert data["content_type"]


async def test_gcode_flow_end_to_end(api: Api, tmp_path: Path) -> None:
    data = prusa(tmp_path)
    ticket = await issue(api, "prusa.gcode")
    uploaded = await put(api, ticket["upload_token"], data)
    assert uploaded.status == 200
    assert uploaded.data == {"size_bytes": len(data)}
    reply = await api.post(
        "/files", json={"name": "prusa.gcode", "storage_key": ticket["storage_key"],
                        "number_of_units": 3},
    )
    assert reply.status == 201, reply.body
    created = reply.data
    assert_fields(created, REF_FILE, "POST /files")
    assert created["id"] == ticket["file_id"]
    assert created["file_size_bytes"] == len(data)
    assert created["number_of_units"] == 3
    assert created["print_time_seconds"] and created["print_time_seconds"] > 0
    assert created["filament_weight_grams"] and created["filament_type"] == "PLA"
    assert created["layer_count"] and created["has_thumbnail"] is True
    detail = await api.get(f"/files/{created['id']}", key="read")
    assert detail.status == 200
    assert_fields(detail.data, REF_FILE | {"versions"}, "GET /files/{id}")
    assert len(detail.data["versions"]) == 1
    version = detail.data["versions"][0]
    assert_fields(version, REF_VERSION, "version")
    assert version["version_number"] == 1 and version["is_current_version"] is True
    assert_no_leaks(detail.body)


async def test_3mf_flow_and_thumbnail(api: Api, tmp_path: Path) -> None:
    reply = await create(api, "plate.3mf", bambu(tmp_path))
    assert reply.status == 201, reply.body
    file = reply.data
    assert_fields(file, REF_FILE)
    assert file["printer_model_id"] and file["curr_bed_type"] and file["object_count"]
    assert file["has_thumbnail"] is True
    thumb = await api.get(f"/files/{file['id']}/thumbnail", key="read")
    assert thumb.status == 200
    assert thumb.headers["Content-Type"].startswith("image/png")
    assert thumb.headers["Cache-Control"] == "public, max-age=86400"
    assert thumb.body.startswith(PNG)


async def test_thumbnail_errors(api: Api, tmp_path: Path) -> None:
    plain = samples.write_prusaslicer(tmp_path / "plain.gcode", thumbnails=False).read_bytes()
    reply = await create(api, "plain.gcode", plain)
    assert reply.status == 201 and reply.data["has_thumbnail"] is False
    assert_error(await api.get(f"/files/{reply.data['id']}/thumbnail"), 404, "NO_THUMBNAIL")
    assert_error(await api.get("/files/does-not-exist/thumbnail"), 404, "FILE_NOT_FOUND")


# --- lists ----------------------------------------------------------------------------------


async def test_list_shape_paging_and_filters(api: Api, tmp_path: Path) -> None:
    made = await create(api, "plate.3mf", bambu(tmp_path))
    assert made.status == 201
    rows = assert_list(await api.get("/files", key="read"), REF_FILE, paged=True)
    assert len(rows) >= 2
    assert rows[0]["id"] == made.data["id"], "most recent first"
    first = await api.get("/files", params={"limit": 1, "offset": 0})
    second = await api.get("/files", params={"limit": 1, "offset": 1})
    assert first.body["meta"] == {"limit": 1, "offset": 0, "count": 1}
    assert second.body["meta"] == {"limit": 1, "offset": 1, "count": 1}
    assert first.data[0]["id"] != second.data[0]["id"]
    beyond = await api.get("/files", params={"offset": 10_000})
    assert beyond.data == [] and beyond.body["meta"]["count"] == 0
    by_model = assert_list(
        await api.get("/files", params={"model_id": made.data["printer_model_id"]}),
        REF_FILE, paged=True,
    )
    assert [r["id"] for r in by_model] == [made.data["id"]]
    pla = assert_list(await api.get("/files", params={"filament_type": "PLA"}), REF_FILE, paged=True)
    assert pla and all("PLA" in (r["filament_type"] or "") for r in pla)
    none = await api.get("/files", params={"product_id": "no-such-product"})
    assert none.data == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "ten"}, "limit"),
     ({"offset": -1}, "offset"), ({"offset": "x"}, "offset")],
)
async def test_list_paging_validation(api: Api, params: dict[str, Any], field: str) -> None:
    assert_validation(await api.get("/files", params=params), field)


# --- versions -------------------------------------------------------------------------------


async def test_versions_add_order_and_set_current(api: Api, tmp_path: Path) -> None:
    first = await create(api, "part.gcode", prusa(tmp_path))
    file_id = first.data["id"]
    cura = samples.write_cura(tmp_path / "cura.gcode").read_bytes()
    key = await staged(api, "part-v2.gcode", cura)
    added = await api.post(f"/files/{file_id}/versions", json={"storage_key": key, "notes": "v2"})
    assert added.status == 201, added.body
    assert_fields(added.data, REF_VERSION, "POST versions")
    assert added.data["version_number"] == 2 and added.data["is_current_version"] is True
    assert added.data["notes"] == "v2"
    after = (await api.get(f"/files/{file_id}")).data
    assert after["file_size_bytes"] == len(cura), "the file follows its current version"

    key3 = await staged(api, "part-v3.gcode", prusa(tmp_path))
    kept = await api.post(
        f"/files/{file_id}/versions", json={"storage_key": key3, "set_as_current": False}
    )
    assert kept.status == 201 and kept.data["is_current_version"] is False

    listed = await api.get(f"/files/{file_id}/versions", key="read")
    assert listed.status == 200 and "meta" not in listed.body
    numbers = [v["version_number"] for v in listed.data]
    assert numbers == [3, 2, 1], "version_number desc"
    assert [v["is_current_version"] for v in listed.data] == [False, True, False]
    for version in listed.data:
        assert_fields(version, REF_VERSION)

    switched = await api.put(f"/files/{file_id}/versions/1/current")
    assert switched.status == 200, switched.body
    assert switched.data["version_number"] == 1 and switched.data["is_current_version"] is True
    current = [v["version_number"] for v in (await api.get(f"/files/{file_id}/versions")).data
               if v["is_current_version"]]
    assert current == [1]
    assert (await api.get(f"/files/{file_id}")).data["file_size_bytes"] == first.data[
        "file_size_bytes"]


@pytest.mark.parametrize(
    "ref", ["99", "0", "-1", "abc", "99999999999999999999", "3000000000", "²", "1.0", "%20"]
)
async def test_set_current_unknown_version(api: Api, tmp_path: Path, ref: str) -> None:
    file_id = (await api.get("/files")).data[0]["id"]
    assert_error(await api.put(f"/files/{file_id}/versions/{ref}/current"), 404,
                 "VERSION_NOT_FOUND")


async def test_version_errors(api: Api, tmp_path: Path) -> None:
    file_id = (await create(api, "base.gcode", prusa(tmp_path))).data["id"]
    wrong_kind = await staged(api, "other.3mf", bambu(tmp_path))
    assert_validation(
        await api.post(f"/files/{file_id}/versions", json={"storage_key": wrong_kind}),
        "storage_key",
    )
    good = await staged(api, "good.gcode", prusa(tmp_path))
    assert_error(await api.post("/files/nope/versions", json={"storage_key": good}), 404,
                 "FILE_NOT_FOUND")
    assert_validation(await api.post(f"/files/{file_id}/versions", json={}), "storage_key")
    assert_validation(
        await api.post(f"/files/{file_id}/versions",
                       json={"storage_key": good, "notes": "n" * 501}), "notes")
    assert_validation(
        await api.post(f"/files/{file_id}/versions",
                       json={"storage_key": good, "set_as_current": "yes"}), "set_as_current")
    assert_error(await api.get("/files/nope/versions"), 404, "FILE_NOT_FOUND")
    assert_error(await api.put("/files/nope/versions/1/current"), 404, "FILE_NOT_FOUND")


# --- parse-metadata ----------------------------------------------------------------------------


def multipart(name: str, data: bytes, field: str = "file") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, data, filename=name, content_type="application/octet-stream")
    return form


async def test_parse_metadata_persists_nothing(api: Api, tmp_path: Path) -> None:
    before = await file_count(api)
    for name, data in (("p.gcode", prusa(tmp_path)), ("b.3mf", bambu(tmp_path))):
        reply = await api.post("/files/parse-metadata", data=multipart(name, data), key="read")
        assert reply.status == 200, reply.body
        meta = reply.data
        assert meta["print_time_seconds"] and meta["layer_count"]
        assert meta["filament_weight_grams"] and meta["printer_model_id"]
        assert_no_leaks(reply.body)
    assert await file_count(api) == before


@pytest.mark.parametrize("sent", ["../../etc/evil.gcode", "/abs/evil.gcode"])
async def test_parse_metadata_strips_client_paths(api: Api, tmp_path: Path, sent: str) -> None:
    body = (
        b"--zzz\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
        + sent.encode() + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        + prusa(tmp_path) + b"\r\n--zzz--\r\n"
    )
    reply = await api.post("/files/parse-metadata", data=body,
                           headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert reply.status == 200, reply.body
    assert reply.data["name"] == "evil.gcode"


async def test_parse_metadata_errors(api: Api, tmp_path: Path) -> None:
    stl = samples.binary_stl()
    assert_error(await api.post("/files/parse-metadata", data=multipart("m.stl", stl)), 400,
                 "UNSUPPORTED_FILE_TYPE")
    assert_error(await api.post("/files/parse-metadata", data=multipart("x.exe", b"MZ")), 400,
                 "UNSUPPORTED_FILE_TYPE")
    assert_validation(
        await api.post("/files/parse-metadata", data=multipart("p.gcode", b";x", field="f")),
        "file",
    )
    assert_validation(await api.post("/files/parse-metadata"), "file")
    assert_validation(await api.post("/files/parse-metadata", json={"file": "x"}), "file")
    junk = await api.post("/files/parse-metadata", data=multipart("j.gcode", os.urandom(4096)))
    assert_error(junk, 400, "INVALID_FILE")
    broken = await api.post(
        "/files/parse-metadata",
        data=b"--b\r\nContent-Disposition: form-data; name=\"file\"",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert broken.status == 400 and broken.body["success"] is False


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    ["../x.gcode", "..\\x.gcode", "a/b.gcode", "/etc/passwd.gcode", "x.gcode\x00.exe",
     "x.exe", "x", ".gcode", "", " x.gcode", "x" * 250 + ".gcode", "x\n.gcode",
     "中" * 100 + ".gcode",  # 100 characters but 300 bytes: no filesystem takes that name
     "..", "."],
)
async def test_upload_url_refuses_unsafe_names(api: Api, filename: str) -> None:
    assert_validation(await api.post("/files/upload-url", json={"filename": filename}),
                      "filename")


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "filename"), ({"filename": 5}, "filename"), ({"filename": None}, "filename"),
     ({"filename": ["a.gcode"]}, "filename"), ({"filename": "a.gcode", "x": 1}, "x"),
     ({"filename": "a.gcode", "content_type": 1}, "content_type")],
)
async def test_upload_url_body_validation(api: Api, body: Any, field: str) -> None:
    assert_validation(await api.post("/files/upload-url", json=body), field)


async def test_upload_url_not_json(api: Api) -> None:
    for data in (b"{", b"[]", b"null", b"\xff\xfe"):
        reply = await api.post("/files/upload-url", data=data,
                               headers={"Content-Type": "application/json"})
        assert_error(reply, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("filename", ["é中文 ünï.gcode", "a'; DROP TABLE print_files;--.gcode"])
async def test_unicode_and_sqlish_names_round_trip(api: Api, tmp_path: Path,
                                                   filename: str) -> None:
    reply = await create(api, filename, prusa(tmp_path))
    assert reply.status == 201, reply.body
    assert reply.data["name"] == filename
    assert (await api.get(f"/files/{reply.data['id']}")).data["name"] == filename


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("junk.gcode", lambda _: os.urandom(8192)),
        ("empty.gcode", lambda _: b""),
        ("nul.gcode", lambda _: b";FLAVOR:Marlin\n\x00\x00G1 X1\n"),
        ("junk.3mf", lambda _: os.urandom(8192)),
        ("empty.3mf", lambda _: b""),
        ("truncated.3mf", lambda p: bambu(p)[: len(bambu(p)) // 2]),
        ("nomodel.3mf", lambda _: zipped({"readme.txt": b"hello"})),
        ("nested.3mf", lambda _: zipped({"inner.zip": zipped({"a": b"x" * 100})})),
        # 200 MB of zeros packed into ~200 KB: refused without inflating it all
        ("bomb.3mf", lambda _: zipped({"Metadata/plate_1.gcode": b"\0" * (200 * 1024 * 1024),
                                       "3D/3dmodel.model": b"<model/>"})),
        # 64 MB of G-code text in well under 1 MB: refused from the zip directory
        ("textbomb.3mf", lambda _: zipped({
            "Metadata/plate_1.gcode": b"G1 X10 Y10 E0.1\n" * (4 << 20),
            "3D/3dmodel.model": b"<model/>"})),
        ("junk.stl", lambda _: os.urandom(200)),
    ],
)
async def test_malformed_files_are_refused_and_leave_nothing(
    api: Api, tmp_path: Path, name: str, payload: Any
) -> None:
    before = await file_count(api)
    key = await staged(api, name, payload(tmp_path))
    reply = await asyncio.wait_for(
        api.post("/files", json={"name": name, "storage_key": key}), timeout=60
    )
    assert_error(reply, 400, "INVALID_FILE")
    assert await file_count(api) == before
    file_id = key.split("/")[1]
    assert_error(await api.get(f"/files/{file_id}"), 404, "FILE_NOT_FOUND")


async def test_storage_key_tampering(api: Api, tmp_path: Path) -> None:
    key = await staged(api, "real.gcode", prusa(tmp_path))
    file_id = key.split("/")[1]
    for bad in (f"uploads/{file_id}/../../etc/passwd.gcode", "../real.gcode", "/etc/real.gcode",
                f"{file_id}/v1/real.gcode", "uploads/not-a-uuid/real.gcode",
                f"uploads/{file_id}/real.gcode/..", "x" * 400):
        reply = await api.post("/files", json={"name": "real.gcode", "storage_key": bad})
        assert reply.status == 400, (bad, reply.body)
        assert reply.code in ("INVALID_STORAGE_KEY", "VALIDATION_ERROR"), reply.body
    assert_validation(
        await api.post("/files", json={"name": "other.gcode", "storage_key": key}), "name"
    )
    assert_validation(await api.post("/files", json={"storage_key": key}), "name")
    assert_validation(await api.post("/files", json={"name": "real.gcode"}), "storage_key")
    for units in (0, -1, "2", 1.5, True, None):
        assert_validation(
            await api.post("/files", json={"name": "real.gcode", "storage_key": key,
                                           "number_of_units": units}), "number_of_units")
    assert_validation(
        await api.post("/files", json={"name": "real.gcode", "storage_key": key, "id": "x"}),
        "id",
    )
    assert_error(
        await api.post("/files", json={"name": "real.gcode", "storage_key": key,
                                       "product_id": "nope"}), 404, "PRODUCT_NOT_FOUND")
    made = await api.post("/files", json={"name": "real.gcode", "storage_key": key})
    assert made.status == 201
    again = await api.post("/files", json={"name": "real.gcode", "storage_key": key})
    assert_error(again, 400, "UPLOAD_ALREADY_USED")


async def test_create_before_upload(api: Api) -> None:
    ticket = await issue(api, "late.gcode")
    reply = await api.post("/files", json={"name": "late.gcode",
                                           "storage_key": ticket["storage_key"]})
    assert_error(reply, 400, "UPLOAD_MISSING")


async def test_upload_put_auth_and_tokens(api: Api, tmp_path: Path) -> None:
    ticket = await issue(api, "t.gcode")
    data = prusa(tmp_path)
    assert_error(await put(api, ticket["upload_token"], data, key=None), 401, "UNAUTHORIZED")
    assert_error(await put(api, ticket["upload_token"], data, key="revoked"), 401,
                 "TOKEN_REVOKED")
    for token in ("nope", "..%2F..%2Fetc%2Fpasswd", "x" * 300):
        reply = await put(api, token, data)
        assert reply.status == 401, reply.body
        assert reply.body["success"] is False
    # any valid key: control-only and read-only keys both work, the token is the credential
    assert (await put(api, ticket["upload_token"], b";first\n", key="control")).status == 200
    replay = await put(api, ticket["upload_token"], data, key="read")
    assert replay.status == 200 and replay.data == {"size_bytes": len(data)}
    made = await api.post("/files", json={"name": "t.gcode", "storage_key": ticket["storage_key"]})
    assert made.status == 201 and made.data["file_size_bytes"] == len(data), "replay overwrote"


async def test_scopes(api: Api) -> None:
    for method, path in (("GET", "/files"), ("GET", "/files/x"), ("GET", "/files/x/versions"),
                         ("GET", "/files/x/thumbnail")):
        reply = await api.request(method, path, key="write")
        assert_error(reply, 403, "INSUFFICIENT_SCOPE")
        assert reply.body["error"] == "API key missing required scope: read"
    for method, path, body in (("POST", "/files/upload-url", {"filename": "a.gcode"}),
                               ("POST", "/files", {"name": "a.gcode", "storage_key": "k"}),
                               ("POST", "/files/x/versions", {"storage_key": "k"}),
                               ("PUT", "/files/x/versions/1/current", None)):
        reply = await api.request(method, path, key="read", json=body)
        assert_error(reply, 403, "INSUFFICIENT_SCOPE")
        assert reply.body["error"] == "API key missing required scope: write"


async def test_concurrent_version_adds_get_distinct_numbers(api: Api, tmp_path: Path) -> None:
    file_id = (await create(api, "race.gcode", prusa(tmp_path))).data["id"]
    keys = [await staged(api, f"race-{n}.gcode", prusa(tmp_path)) for n in range(5)]
    replies = await asyncio.gather(
        *(api.post(f"/files/{file_id}/versions", json={"storage_key": key}) for key in keys)
    )
    assert [r.status for r in replies] == [201] * 5, [r.body for r in replies]
    numbers = sorted(r.data["version_number"] for r in replies)
    assert numbers == [2, 3, 4, 5, 6]
    listed = (await api.get(f"/files/{file_id}/versions")).data
    assert sum(1 for v in listed if v["is_current_version"]) == 1


async def test_unknown_routes_and_methods(api: Api) -> None:
    assert_error(await api.get("/files/x/y/z"), 404, "NOT_FOUND")
    assert_error(await api.put("/files/upload-url"), 405, "METHOD_NOT_ALLOWED")
    assert_error(await api.patch("/files"), 405, "METHOD_NOT_ALLOWED")
