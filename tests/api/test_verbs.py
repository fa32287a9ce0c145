"""The everyday verbs: delete and download files, one-request multipart upload,
.bgcode uploads, delete a queued job, CSV export of the job history."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select, update

from apf_core.storage.tables.spine import file_versions, jobs, print_files, upload_tokens
from tests.api.test_files import create_file, disk_files, prusa_gcode
from tests.files.bgcode_samples import prusa_bgcode


@pytest.fixture(autouse=True)
def _loopback_sockets() -> None:
    try:
        import pytest_socket
    except ImportError:
        return
    pytest_socket.enable_socket()


def form(filename: str, data: bytes, **fields: str) -> aiohttp.FormData:
    body = aiohttp.FormData()
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return body


async def counts(api) -> tuple[int, int, int]:
    async with api.farm.db.read() as conn:
        found = [
            int(await conn.scalar(select(func.count()).select_from(t)) or 0)
            for t in (print_files, file_versions, upload_tokens)
        ]
    return found[0], found[1], found[2]


# -- one-request upload ---------------------------------------------------------------------


async def test_multipart_upload_matches_the_three_step_flow(api, tmp_path: Path) -> None:
    data = prusa_gcode(tmp_path)
    three_step = await create_file(api, "a.gcode", data)
    reply = await api.post("/files", data=form("a.gcode", data, number_of_units="3"), key="write")
    assert reply.status == 201, reply.body
    one = reply.data
    assert one["number_of_units"] == 3 and one["name"] == "a.gcode"
    for field in ("print_time_seconds", "filament_type", "printer_model_id", "has_thumbnail",
                  "file_size_bytes", "layer_count"):
        assert one[field] == three_step[field], field
    got = await api.get(f"/files/{one['id']}/download", key="read")
    assert got.status == 200 and got.body == data


async def test_multipart_fields_after_the_file_and_bgcode(api) -> None:
    body = aiohttp.FormData()
    body.add_field("file", prusa_bgcode(), filename="mk4.bgcode")
    body.add_field("number_of_units", "2")
    reply = await api.post("/files", data=body, key="write")
    assert reply.status == 201, reply.body
    made = reply.data
    assert made["number_of_units"] == 2 and made["printer_model_id"] == "MK4"
    assert made["filament_type"] == "PETG" and made["print_time_seconds"] == 3723
    assert made["has_thumbnail"] is True
    thumb = await api.get(f"/files/{made['id']}/thumbnail", key="read")
    assert thumb.status == 200 and thumb.body.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("make", "status", "code", "field"),
    [
        (lambda d: form("part.exe", d), 400, "VALIDATION_ERROR", "file"),
        (lambda d: form("a.gcode", d, number_of_units="0"), 400, "VALIDATION_ERROR", "number_of_units"),
        (lambda d: form("a.gcode", d, number_of_units="many"), 400, "VALIDATION_ERROR", "number_of_units"),
        (lambda d: form("a.gcode", d, product_id="nope"), 404, "PRODUCT_NOT_FOUND", None),
        (lambda d: form("a.gcode", b"\x00\x01binary junk" * 50), 400, "INVALID_FILE", None),
        (lambda d: form("a.bgcode", b"GCDE" + b"\x07" * 20), 400, "INVALID_FILE", None),
    ],
)
async def test_multipart_refusals_leave_nothing(api, tmp_path: Path, make, status, code, field) -> None:
    before_rows, before_disk = await counts(api), disk_files(api)
    reply = await api.post("/files", data=make(prusa_gcode(tmp_path)), key="write")
    assert (reply.status, reply.code) == (status, code), reply.body
    if field:
        assert field in reply.body["error"]
    assert await counts(api) == before_rows
    assert disk_files(api) == before_disk


async def test_multipart_without_a_file_part_and_without_scope(api) -> None:
    body = aiohttp.FormData()
    body.add_field("number_of_units", "2")
    body.add_field("other", "x", filename="x.txt")
    reply = await api.post("/files", data=body, key="write")
    assert (reply.status, reply.code) == (400, "VALIDATION_ERROR")
    assert "file" in reply.body["error"]
    denied = await api.post("/files", data=form("a.gcode", b"G28\n"), key="read")
    assert (denied.status, denied.code) == (403, "INSUFFICIENT_SCOPE")


async def test_multipart_upload_respects_the_size_limit(api) -> None:
    api.farm.settings.max_upload_bytes = 4096
    reply = await api.post("/files", data=form("big.gcode", b"G1 X1\n" * 2000), key="write")
    assert (reply.status, reply.code) == (413, "PAYLOAD_TOO_LARGE")
    assert (await counts(api))[2] == 0  # no staged token remains


# -- delete and download ------------------------------------------------------------------------


async def test_download_bytes_and_name(api, tmp_path: Path) -> None:
    data = prusa_gcode(tmp_path)
    made = await create_file(api, "Benchy ü.gcode", data)
    got = await api.get(f"/files/{made['id']}/download", key="read")
    assert got.status == 200 and got.body == data
    assert got.headers["Content-Type"].startswith("text/x.gcode")
    assert "attachment" in got.headers["Content-Disposition"]
    assert "Benchy%20%C3%BC.gcode" in got.headers["Content-Disposition"]
    assert (await api.get("/files/nope/download", key="read")).code == "FILE_NOT_FOUND"
    assert (await api.get(f"/files/{made['id']}/download", key="write")).status == 403


async def test_delete_file_removes_rows_and_bytes(api, tmp_path: Path) -> None:
    made = await create_file(api, "gone.gcode", prusa_gcode(tmp_path))
    assert any(p.startswith(made["id"]) for p in disk_files(api))
    assert (await api.delete(f"/files/{made['id']}", key="read")).status == 403
    reply = await api.delete(f"/files/{made['id']}", key="write")
    assert reply.status == 200 and reply.data["deleted"] is True
    assert (await api.get(f"/files/{made['id']}", key="read")).code == "FILE_NOT_FOUND"
    assert not any(p.startswith(made["id"]) for p in disk_files(api))
    async with api.farm.db.read() as conn:
        versions = await conn.scalar(
            select(func.count()).select_from(file_versions).where(file_versions.c.file_id == made["id"])
        )
    assert versions == 0
    again = await api.delete(f"/files/{made['id']}", key="write")
    assert (again.status, again.code) == (404, "FILE_NOT_FOUND")


async def test_delete_file_refused_while_a_job_needs_it(api, tmp_path: Path) -> None:
    made = await create_file(api, "busy.gcode", prusa_gcode(tmp_path))
    job = (await api.post("/jobs", json={"print_file_id": made["id"]}, key="write")).data
    refused = await api.delete(f"/files/{made['id']}", key="write")
    assert (refused.status, refused.code) == (409, "FILE_IN_USE")
    assert job["id"] in refused.body["error"] and refused.body["job_ids"] == [job["id"]]
    assert (await api.get(f"/files/{made['id']}", key="read")).status == 200
    # once the job is finished, the file may go and the job keeps its history
    async with api.farm.db.begin() as conn:
        await conn.execute(update(jobs).where(jobs.c.id == job["id"]).values(status="completed"))
    assert (await api.delete(f"/files/{made['id']}", key="write")).status == 200
    kept = (await api.get(f"/jobs/{job['id']}", key="read")).data
    assert kept["print_file_id"] is None and kept["file_name"] == "busy.gcode"


# -- jobs: delete and export ----------------------------------------------------------------------


async def test_delete_queued_job_only(api, tmp_path: Path) -> None:
    made = await create_file(api, "q.gcode", prusa_gcode(tmp_path))
    job = (await api.post("/jobs", json={"print_file_id": made["id"]}, key="write")).data
    assert (await api.delete(f"/jobs/{job['id']}", key="read")).status == 403
    reply = await api.delete(f"/jobs/{job['id']}", key="write")
    assert reply.status == 200 and reply.data == {"id": job["id"], "deleted": True}
    assert (await api.get(f"/jobs/{job['id']}", key="read")).code == "JOB_NOT_FOUND"
    assert (await api.delete(f"/jobs/{job['id']}", key="write")).code == "JOB_NOT_FOUND"
    finished = (await api.get("/jobs", params={"status": "completed"}, key="read")).data[0]
    refused = await api.delete(f"/jobs/{finished['id']}", key="write")
    assert (refused.status, refused.code) == (409, "INVALID_STATE")
    assert "completed" in refused.body["error"]
    assert (await api.get(f"/jobs/{finished['id']}", key="read")).status == 200


async def test_export_csv_with_filters(api) -> None:
    everything = await api.get("/jobs/export", key="read")
    assert everything.status == 200
    assert everything.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in everything.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(everything.body.decode())))
    listed = (await api.get("/jobs", params={"limit": 100}, key="read")).data
    assert [r["id"] for r in rows][: len(listed)] == [j["id"] for j in listed]
    completed = await api.get("/jobs/export", params={"status": "completed"}, key="read")
    done = list(csv.DictReader(io.StringIO(completed.body.decode())))
    assert done and {r["status"] for r in done} == {"completed"}
    assert len(done) == len([r for r in rows if r["status"] == "completed"])
    future = await api.get("/jobs/export", params={"from": "2999-01-01"}, key="read")
    assert future.body.decode().strip().count("\n") == 0  # header only
    bad = await api.get("/jobs/export", params={"status": "sleeping"}, key="read")
    assert (bad.status, bad.code) == (400, "VALIDATION_ERROR")


async def test_export_pages_through_batches_and_defuses_formulas(api, monkeypatch, tmp_path) -> None:
    from apf_core.services import job_admin

    monkeypatch.setattr(job_admin, "EXPORT_BATCH", 3)
    made = await create_file(api, "f.gcode", prusa_gcode(tmp_path))
    job = (await api.post("/jobs", json={"print_file_id": made["id"], "color": "=HYPERLINK(1)"}, key="write")).data
    reply = await api.get("/jobs/export", key="read")
    rows = list(csv.DictReader(io.StringIO(reply.body.decode())))
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids))
    async with api.farm.db.read() as conn:
        assert len(ids) == await conn.scalar(select(func.count()).select_from(jobs))
    mine = next(r for r in rows if r["id"] == job["id"])
    assert mine["color"] == "'=HYPERLINK(1)"


async def test_bare_api_root_links_docs_openapi_and_health(api) -> None:
    reply = await api.get("", key=None)
    assert reply.status == 200
    links = reply.data["links"]
    assert links == {
        "docs": f"{api.server.api}/docs",
        "openapi": f"{api.server.api}/openapi.json",
        "health": f"{api.server.api}/health",
    }
    for url in links.values():
        async with api.session.get(url) as resp:
            assert resp.status == 200


async def test_messages_in_words_for_integers_and_json(api, tmp_path: Path) -> None:
    made = await create_file(api, "w.gcode", prusa_gcode(tmp_path))
    for value in (99999999999999999999, 1.5, True, "3", 0):
        reply = await api.post(
            "/jobs", json={"print_file_id": made["id"], "number_of_units": value}, key="write"
        )
        assert (reply.status, reply.code) == (400, "VALIDATION_ERROR"), value
        assert reply.body["details"] == [
            {"field": "number_of_units", "message": "must be an integer between 1 and 10000"}
        ], value
    broken = await api.post(
        "/jobs", data=b"not json", headers={"Content-Type": "application/json"}, key="write"
    )
    assert (broken.status, broken.code) == (400, "VALIDATION_ERROR")
    assert "body is not valid JSON" in broken.body["error"] and "null" not in broken.body["error"]
