"""Refuse what cannot work (issue 13): unsliced files are not queued, printer names are
unique, connections are checked per protocol, an unknown printer model is warned about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.test_files import create_file
from tests.files import samples


async def _file(api, tmp_path: Path, name: str) -> dict[str, Any]:
    path = tmp_path / name
    if name.endswith(".stl"):
        path.write_bytes(samples.binary_stl(4))
    elif name == "project.3mf":
        samples.write_project_3mf(path, "PrusaSlicer-2.8.0", 1, thumbnail=False)
    elif name == "bambu-unsliced.3mf":
        samples.write_bambu_3mf(path, gcode_plates=())
    elif name.endswith(".3mf"):
        samples.write_bambu_3mf(path)
    else:
        samples.write_prusaslicer(path, layers=3)
    return await create_file(api, name, path.read_bytes())


@pytest.mark.parametrize("name", ["part.stl", "project.3mf", "bambu-unsliced.3mf"])
async def test_unsliced_file_is_not_queued(api, tmp_path, name) -> None:
    file = await _file(api, tmp_path, name)
    reply = await api.post("/jobs", json={"print_file_id": file["id"]}, key="write")
    assert (reply.status, reply.code) == (400, "FILE_NOT_PRINTABLE"), reply.body
    assert reply.body["error"].startswith("print_file_id:")
    assert name in reply.body["error"] and "slice" in reply.body["error"]
    queued = (await api.get("/jobs", params={"limit": 100}, key="read")).data
    assert all(j["print_file_id"] != file["id"] for j in queued)


@pytest.mark.parametrize("name", ["part.gcode", "Cube.gcode.3mf"])
async def test_sliced_file_is_queued(api, tmp_path, name) -> None:
    file = await _file(api, tmp_path, name)
    reply = await api.post("/jobs", json={"print_file_id": file["id"]}, key="write")
    assert reply.status == 201, reply.body
    assert "meta" not in reply.body  # no warnings to give


async def test_order_production_refuses_an_unsliced_part(api, tmp_path) -> None:
    file = await _file(api, tmp_path, "part.stl")
    product = await api.post("/products", json={"name": "Mesh only", "print_file_id": file["id"]})
    assert product.status == 201, product.body
    sku = await api.post("/skus", json={"product_id": product.data["id"], "sku": "MESH-1"})
    assert sku.status == 201, sku.body
    line = {"sku": "MESH-1", "product_name": "Mesh only", "quantity": 2, "unit_price": 100}
    order = await api.post("/orders", json={"customer_name": "Ann", "items": [line]})
    assert order.status == 201, order.body
    reply = await api.post(f"/orders/{order.data['id']}/produce", json={})
    assert (reply.status, reply.code) == (400, "FILE_NOT_PRINTABLE"), reply.body
    assert "part.stl" in reply.body["error"]


async def _printer(api, name: str, **extra: Any):
    return await api.post(
        "/printers", json={"name": name, "protocol": "simulated", **extra}, key="write"
    )


async def test_printer_names_are_unique_ignoring_case(api) -> None:
    first = await _printer(api, "Prusa 1")
    assert first.status == 201
    for name in ("Prusa 1", "prusa 1", " PRUSA 1 "):
        again = await _printer(api, name)
        assert (again.status, again.code) == (409, "PRINTER_NAME_TAKEN"), name
        assert "Prusa 1" in again.body["error"] and again.body["error"].startswith("name:")
        assert again.body["printer_id"] == first.data["id"]
    other = (await _printer(api, "Prusa 2")).data["id"]
    renamed = await api.patch(f"/printers/{other}", json={"name": "PRUSA 1"}, key="write")
    assert (renamed.status, renamed.code) == (409, "PRINTER_NAME_TAKEN")
    same = await api.patch(f"/printers/{first.data['id']}", json={"name": "prusa 1"}, key="write")
    assert same.status == 200 and same.data["name"] == "prusa 1"  # its own name, new case
    assert (await api.get(f"/printers/{other}", key="read")).data["name"] == "Prusa 2"


@pytest.mark.parametrize(
    ("protocol", "connection", "field"),
    [
        ("moonraker", {"url": "not a url"}, "connection.url"),
        ("moonraker", {"url": "ftp://printer.local"}, "connection.url"),
        ("prusalink", {"url": "http://"}, "connection.url"),
        ("octoprint", {"url": "https://octo.local/?x=1", "api_key": "k"}, "connection.url"),
        ("octoprint", {"url": "http://octo.local"}, "connection.api_key"),
        ("bambu", {"host": "a host", "serial": "S", "access_code": "1"}, "connection.host"),
        ("bambu", {"host": "10.0.0.5", "serial": "S"}, "connection.access_code"),
        (
            "bambu",
            {"host": "10.0.0.5", "serial": "S", "access_code": "1", "port": "mqtt"},
            "connection.port",
        ),
    ],
)
async def test_connection_is_checked_per_protocol(api, protocol, connection, field) -> None:
    body = {"name": "Bad", "protocol": protocol, "connection": connection}
    reply = await api.post("/printers", json=body, key="write")
    assert (reply.status, reply.code) == (400, "VALIDATION_ERROR"), reply.body
    assert reply.body["details"][0]["field"] == field
    assert field in reply.body["error"]
    assert (await api.get("/printers", params={"search": "Bad"}, key="read")).data == []


async def test_valid_connections_are_accepted_and_patch_is_checked(api) -> None:
    ok = await api.post(
        "/printers",
        json={"name": "Voron", "protocol": "moonraker", "connection": {"url": "voron.local:7125"}},
        key="write",
    )
    assert ok.status == 201, ok.body
    bambu = await api.post(
        "/printers",
        json={
            "name": "X1",
            "protocol": "bambu",
            "connection": {"host": "192.168.1.20", "serial": "01S", "access_code": "12345678"},
        },
        key="write",
    )
    assert bambu.status == 201, bambu.body
    bad = await api.patch(
        f"/printers/{ok.data['id']}", json={"connection": {"url": "gopher://x"}}, key="write"
    )
    assert (bad.status, bad.code) == (400, "VALIDATION_ERROR")
    assert bad.body["details"][0]["field"] == "connection.url"


async def test_unknown_printer_model_is_warned(api, tmp_path) -> None:
    await _printer(api, "Mk4 one", model="MK4")
    file = await _file(api, tmp_path, "part.gcode")
    body = {"print_file_id": file["id"], "required_printer_model": "Nonexistent 9000"}
    reply = await api.post("/jobs", json=body, key="write")
    assert reply.status == 201, reply.body
    [warning] = reply.body["meta"]["warnings"]
    assert warning["code"] == "UNKNOWN_PRINTER_MODEL"
    assert warning["field"] == "required_printer_model"
    assert "Nonexistent 9000" in warning["message"] and "MK4" in warning["message"]
    job = reply.data["id"]
    why = (await api.get(f"/jobs/{job}/eligibility", key="read")).data
    assert why["eligible_printer_count"] == 0 and why["printers"]
    for entry in why["printers"]:
        assert "MODEL_MISMATCH" in [r["code"] for r in entry["reasons"]], entry
    fixed = await api.patch(f"/jobs/{job}", json={"required_printer_model": "mk4"}, key="write")
    assert fixed.status == 200 and "meta" not in fixed.body
    still = await api.patch(f"/jobs/{job}", json={"required_printer_model": "Imaginary Printer"}, key="write")
    assert still.body["meta"]["warnings"][0]["code"] == "UNKNOWN_PRINTER_MODEL"
