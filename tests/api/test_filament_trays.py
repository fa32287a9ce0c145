"""Filament load: the tray ids real printers have (AMS, AMS HT, two external spools)."""

from __future__ import annotations

import asyncio

import pytest

from apf_core.domain.live import LiveStatus
from tests.api.control_doubles import ScriptedControl
from tests.api.test_printers import register


def _tray(tray_id: int) -> dict[str, object]:
    return {"tray_id": tray_id, "unit": None, "slot": None, "active": False}


async def _report(api, printer_id: str, live: LiveStatus) -> None:  # type: ignore[no-untyped-def]
    """Stand in for the printer's reports once its (unreachable) driver said it is offline."""
    for _ in range(200):
        current = api.farm.live.get(printer_id)
        if current is not None and current.offline_reason:
            break
        await asyncio.sleep(0.02)
    api.farm.live.set(printer_id, live)


async def _load(api, printer_id: str, tray_id: int):  # type: ignore[no-untyped-def]
    return await api.post(
        f"/printers/{printer_id}/filament/load", json={"tray_id": tray_id}, key="control"
    )


@pytest.mark.parametrize("tray_id", [-1, 16, 127, 136, 253, 256])
async def test_impossible_tray_ids_are_refused_by_the_schema(api, tray_id: int) -> None:
    printer = await register(api, has_ams=True)
    api.farm.control = control = ScriptedControl()
    reply = await _load(api, printer["id"], tray_id)
    assert reply.status == 400 and reply.code == "VALIDATION_ERROR", reply.body
    assert reply.body["details"][0]["field"] == "tray_id"
    assert "128-135" in reply.body["details"][0]["message"]
    assert control.sent == []


@pytest.mark.parametrize("tray_id", [0, 15, 128, 135, 254, 255])
async def test_trays_unknown_any_real_tray_id_reaches_an_ams_printer(api, tray_id: int) -> None:
    printer = await register(api, has_ams=True)
    api.farm.control = control = ScriptedControl()
    reply = await _load(api, printer["id"], tray_id)
    assert reply.status == 200, reply.body
    assert [c.params["tray_id"] for _, c in control.sent] == [tray_id]


async def test_printer_without_ams_takes_both_external_spools_only(api) -> None:
    printer = await register(api)
    api.farm.control = control = ScriptedControl()
    assert (await _load(api, printer["id"], 255)).status == 200
    refused = await _load(api, printer["id"], 128)
    assert refused.status == 400 and refused.code == "INVALID_TRAY"
    assert refused.body["details"] == [{"field": "tray_id", "message": refused.body["message"]}]
    assert "254 and 255" in refused.body["message"]
    assert [c.params["tray_id"] for _, c in control.sent] == [255]


async def test_reported_trays_are_the_valid_ones(api) -> None:
    printer = await register(api, has_ams=False)  # the stored flag is stale: the reports win
    api.farm.control = control = ScriptedControl()
    trays = [_tray(t) for t in (1, 0, 128, 254, 255)]
    await _report(api, printer["id"], LiveStatus(online=True, status="idle", trays=trays))
    refused = await _load(api, printer["id"], 5)
    assert refused.status == 400 and refused.code == "INVALID_TRAY", refused.body
    assert "tray_id 5" in refused.body["message"]
    assert refused.body["message"].endswith("it has trays 0, 1, 128, 254, 255")
    assert refused.body["details"][0]["field"] == "tray_id"
    for tray_id in (128, 255, 1):
        assert (await _load(api, printer["id"], tray_id)).status == 200
    assert [c.params["tray_id"] for _, c in control.sent] == [128, 255, 1]


async def test_offline_printer_falls_back_to_the_static_check(api) -> None:
    printer = await register(api, has_ams=True)
    api.farm.control = ScriptedControl()
    stale = LiveStatus(online=False, status="offline", trays=[_tray(0)])
    await _report(api, printer["id"], stale)
    assert (await _load(api, printer["id"], 130)).status == 200
