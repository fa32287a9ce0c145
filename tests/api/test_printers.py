"""Printers: registration, reads, filters, status, maintenance, control errors."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from apf_core.storage.tables.spine import printers
from tests.api.control_doubles import ScriptedControl

OCTO = {"url": "http://127.0.0.1:9", "api_key": "S3CRET-octo-key"}
LIST_FIELDS = {
    "id",
    "name",
    "model",
    "manufacturer",
    "status",
    "location",
    "nozzle_size",
    "current_color",
    "current_color_hex",
    "current_filament_type",
    "current_build_plate",
    "has_ams",
    "is_active",
    "created_at",
    "updated_at",
}


async def register(api, **overrides):
    body = {
        "name": "Octo",
        "protocol": "octoprint",
        "model": "MK3S",
        "connection": OCTO,
        **overrides,
    }
    reply = await api.post("/printers", json=body, key="write")
    assert reply.status == 201, reply.body
    return reply.data


async def test_register_never_returns_connection(api, caplog) -> None:
    printer = await register(api)
    assert "connection" not in printer
    assert printer["protocol"] == "octoprint" and printer["status"] == "offline"
    detail = (await api.get(f"/printers/{printer['id']}", key="read")).data
    listing = (await api.get("/printers", key="read")).data
    for blob in (repr(printer), repr(detail), repr(listing), caplog.text):
        assert "S3CRET" not in blob and "9/" not in blob
    assert set(listing[0]) == LIST_FIELDS
    async with api.farm.db.read() as conn:
        stored = (
            await conn.execute(select(printers.c.connection).where(printers.c.id == printer["id"]))
        ).scalar_one()
    assert stored == OCTO


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"protocol": "octoprint", "connection": OCTO}, "name"),
        ({"name": "x", "protocol": "telnet"}, "protocol"),
        (
            {"name": "x", "protocol": "octoprint", "connection": {"url": "http://h"}},
            "connection.api_key",
        ),
        (
            {"name": "x", "protocol": "bambu", "connection": {"host": "h", "serial": "s"}},
            "connection.access_code",
        ),
        ({"name": "", "protocol": "simulated"}, "name"),
        ({"name": "x", "protocol": "simulated", "nozzle_size": "big"}, "nozzle_size"),
        ({"name": "x", "protocol": "simulated", "color": "red"}, "color"),
    ],
)
async def test_register_validation(api, body, field) -> None:
    reply = await api.post("/printers", json=body, key="write")
    assert reply.status == 400 and reply.code == "VALIDATION_ERROR"
    assert field in reply.body["error"]
    assert any(d["field"] == field for d in reply.body["details"])


async def test_patch_updates_fields_and_connection(api) -> None:
    printer = await register(api)
    reply = await api.patch(
        f"/printers/{printer['id']}",
        json={
            "name": "Renamed",
            "location": "Shelf",
            "notes": "n",
            "connection": {"api_key": "NEW-KEY"},
        },
        key="write",
    )
    assert reply.status == 200
    assert reply.data["name"] == "Renamed" and reply.data["location"] == "Shelf"
    assert "NEW-KEY" not in repr(reply.body)
    async with api.farm.db.read() as conn:
        stored = (
            await conn.execute(select(printers.c.connection).where(printers.c.id == printer["id"]))
        ).scalar_one()
    assert stored == {**OCTO, "api_key": "NEW-KEY"}
    assert (
        await api.patch("/printers/nope", json={"name": "x"}, key="write")
    ).code == "PRINTER_NOT_FOUND"


async def test_filters_and_search(api) -> None:
    await register(api, name="Garage Prusa", location="Garage", is_active=False)

    def names(r):
        return {p["name"] for p in r.data}

    assert names(await api.get("/printers", params={"location": "Garage"}, key="read")) == {
        "Garage Prusa"
    }
    assert names(await api.get("/printers", params={"search": "gArAge"}, key="read")) == {
        "Garage Prusa"
    }
    inactive = await api.get("/printers", params={"is_active": "false"}, key="read")
    assert names(inactive) == {"Garage Prusa"}
    assert "Garage Prusa" not in names(
        await api.get("/printers", params={"is_active": "true"}, key="read")
    )
    bad = await api.get("/printers", params={"is_active": "yes"}, key="read")
    assert bad.code == "VALIDATION_ERROR" and "is_active" in bad.body["error"]
    assert (
        await api.get("/printers", params={"status": "flying"}, key="read")
    ).code == "VALIDATION_ERROR"


async def test_detail_stats_and_not_found(api) -> None:
    printer = await register(api)
    detail = (await api.get(f"/printers/{printer['id']}", key="read")).data
    for field in (
        "firmware_version",
        "total_print_time",
        "filament_level",
        "last_maintenance_date",
        "in_maintenance",
        "maintenance_type",
    ):
        assert field in detail
    stats = (await api.get("/printers/stats", key="read")).data
    assert stats["total"] == sum(stats["by_status"].values()) >= 5
    missing = await api.get("/printers/does-not-exist", key="read")
    assert missing.status == 404 and missing.code == "PRINTER_NOT_FOUND"


async def test_status_of_unreachable_printer_has_null_live_fields(api) -> None:
    printer = await register(api)
    status = (await api.get(f"/printers/{printer['id']}/status", key="read")).data
    assert status["printer_id"] == printer["id"] and status["hub_online"] is False
    assert status["status"] == "offline"
    for field in (
        "progress",
        "nozzle_temp",
        "bed_temp",
        "target_nozzle_temp",
        "layer_num",
        "remaining_time_minutes",
    ):
        assert status[field] is None
    assert (await api.get("/printers/nope/status", key="read")).code == "PRINTER_NOT_FOUND"


async def test_maintenance_round_trip(api) -> None:
    printer = await register(api)
    path = f"/printers/{printer['id']}/maintenance"
    on = await api.put(
        path, json={"in_maintenance": True, "maintenance_type": "nozzle swap"}, key="write"
    )
    assert on.data["status"] == "maintenance" and on.data["in_maintenance"] is True
    assert on.data["maintenance_type"] == "nozzle swap" and on.data["last_maintenance_date"] is None
    off = await api.put(path, json={"in_maintenance": False}, key="write")
    assert off.data["in_maintenance"] is False and off.data["status"] != "maintenance"
    assert off.data["last_maintenance_date"] is not None
    assert (await api.put(path, json={}, key="write")).code == "VALIDATION_ERROR"


async def test_maintenance_refused_while_printing(api) -> None:
    printer = await register(api)
    api.farm.control = ScriptedControl()
    file_id = (await api.get("/jobs", key="read")).data[0]["print_file_id"]
    job = (
        await api.post(
            "/jobs", json={"print_file_id": file_id, "printer_id": printer["id"]}, key="write"
        )
    ).data
    assert (await api.post(f"/jobs/{job['id']}/start", key="control")).data["status"] == "printing"
    reply = await api.put(
        f"/printers/{printer['id']}/maintenance", json={"in_maintenance": True}, key="write"
    )
    assert reply.status == 409 and reply.code == "PRINTER_PRINTING"


async def test_physical_commands_fail_as_hub_offline(api) -> None:
    printer = await register(api)
    base = f"/printers/{printer['id']}"
    for path, body in (
        ("/light", {"state": "on"}),
        ("/temperature", {"heater": "nozzle", "target": 200}),
        ("/filament/load", {}),
        ("/filament/unload", {}),
    ):
        reply = await api.post(base + path, json=body, key="control")
        assert reply.status == 503 and reply.code == "HUB_OFFLINE", (path, reply.body)


async def test_control_state_rules(api) -> None:
    printer = await register(api)
    path = f"/printers/{printer['id']}/control"
    reply = await api.post(path, json={"action": "pause"}, key="control")
    assert reply.status == 409 and reply.code == "INVALID_STATE"
    reply = await api.post(path, json={"action": "clear_bed"}, key="control")
    assert reply.code == "INVALID_STATE"
    assert (
        await api.post(path, json={"action": "dance"}, key="control")
    ).code == "VALIDATION_ERROR"
    assert (await api.post(path, json={}, key="control")).code == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/light", {"state": "dim"}, "INVALID_STATE"),
        ("/light", {}, "VALIDATION_ERROR"),
        ("/temperature", {"heater": "nozzle", "target": 301}, "VALIDATION_ERROR"),
        ("/temperature", {"heater": "bed", "target": 121}, "VALIDATION_ERROR"),
        ("/temperature", {"heater": "bed", "target": -1}, "VALIDATION_ERROR"),
        ("/temperature", {"heater": "toaster", "target": 10}, "VALIDATION_ERROR"),
        ("/filament/load", {"tray_id": 16}, "VALIDATION_ERROR"),
        ("/filament/load", {"tray_id": 3}, "INVALID_TRAY"),
    ],
)
async def test_command_input_errors(api, path, body, code) -> None:
    printer = await register(api)
    api.farm.control = ScriptedControl()
    reply = await api.post(f"/printers/{printer['id']}{path}", json=body, key="control")
    assert reply.status == 400 and reply.code == code, reply.body


async def test_commands_reach_the_control_interface(api) -> None:
    printer = await register(api, has_ams=True)
    control = ScriptedControl()
    api.farm.control = control
    base = f"/printers/{printer['id']}"
    light = await api.post(base + "/light", json={"state": "on"}, key="control")
    assert light.data["state"] is True and light.data["command_id"]
    temp = await api.post(
        base + "/temperature", json={"heater": "bed", "target": 60}, key="control"
    )
    assert temp.data == {
        "printer_id": printer["id"],
        "heater": "bed",
        "target": 60.0,
        "command_id": temp.data["command_id"],
    }
    load = await api.post(base + "/filament/load", json={"tray_id": 5}, key="control")
    assert load.data["tray_id"] == 5 and load.data["temperature"] == 220
    actions = [(c.action, c.params) for _, c in control.sent]
    assert actions == [
        ("light", {"on": True}),
        ("temperature", {"heater": "bed", "target": 60.0}),
        ("filament_load", {"tray_id": 5, "temperature": 220.0}),
    ]


async def test_capability_errors_are_explicit(api) -> None:
    from apf_core.domain.control import CapabilityMissing

    printer = await register(api)
    api.farm.control = ScriptedControl(
        fail_with=CapabilityMissing("printer does not support: light")
    )
    reply = await api.post(f"/printers/{printer['id']}/light", json={"state": True}, key="control")
    assert reply.status == 400 and reply.code == "CAPABILITY_NOT_SUPPORTED"
    assert "light" in reply.body["error"]


async def test_delete(api) -> None:
    printer = await register(api)
    assert (await api.delete(f"/printers/{printer['id']}", key="write")).data["deleted"] is True
    assert (await api.get(f"/printers/{printer['id']}", key="read")).code == "PRINTER_NOT_FOUND"
    assert (await api.delete(f"/printers/{printer['id']}", key="write")).code == "PRINTER_NOT_FOUND"


async def test_status_and_detail_report_capabilities_of_connected_printers(api) -> None:
    import asyncio

    printers = {p["name"]: p["id"] for p in (await api.get("/printers", key="read")).data}
    x1c = printers["X1C"]
    for _ in range(100):  # the simulated printers connect right after start-up
        status = (await api.get(f"/printers/{x1c}/status", key="read")).data
        if status["hub_online"]:
            break
        await asyncio.sleep(0.05)
    assert status["hub_online"] is True
    assert {"light", "ams"} <= set(status["capabilities"])
    assert status["light_on"] in (True, False)
    detail = (await api.get(f"/printers/{printers['MK4']}", key="read")).data
    assert "light" not in detail["capabilities"]
    octoprint = await register(api)  # OctoPrint has no chamber light, reachable or not
    assert "light" not in (
        (await api.get(f"/printers/{octoprint['id']}", key="read")).data["capabilities"] or []
    )
