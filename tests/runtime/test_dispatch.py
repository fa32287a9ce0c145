"""The dispatcher: constraints, eligibility, switches, reservations, scopes."""

from __future__ import annotations

import asyncio

import pytest

from apf_core.dispatch import JobInfo, PrinterInfo, Slot, eligibility, plan
from tests.runtime.conftest import Farm


def _codes(entry: dict) -> set[str]:  # type: ignore[type-arg]
    return {r["code"] for r in entry["reasons"]}


async def test_eligibility_reasons(farm: Farm) -> None:
    ok = await farm.add_printer("A ok", tags=["fast", "enclosed"])
    wrong_model = await farm.add_printer("B model", model="X1 Carbon", tags=["fast", "enclosed"])
    wrong_nozzle = await farm.add_printer("C nozzle", nozzle_size=0.6, tags=["fast", "enclosed"])
    wrong_colour = await farm.add_printer(
        "D colour", current_color="White", current_color_hex="#FFFFFF", tags=["fast", "enclosed"]
    )
    wrong_material = await farm.add_printer(
        "E material", current_filament_type="PETG", tags=["fast", "enclosed"]
    )
    few_tags = await farm.add_printer("F tags", tags=["fast"])
    maint = await farm.add_printer("G maintenance", tags=["fast", "enclosed"])
    await farm.api.put(f"/printers/{maint}/maintenance", json={"in_maintenance": True}, key="write")
    off = await farm.add_printer("H off", auto_dispatch=False, tags=["fast", "enclosed"])
    dark = await farm.add_printer("I offline", tags=["fast", "enclosed"])
    farm.sim(dark).power_off()  # type: ignore[union-attr]
    await farm.wait_for(lambda: not farm.online(dark), what="offline")

    file_id = await farm.add_file(model="MK4", nozzle=0.4)
    job = await farm.enqueue(
        file_id, color="Black", filament_type="PLA", required_tags=["fast", "enclosed"]
    )
    reply = await farm.api.get(f"/jobs/{job['id']}/eligibility", key="read")
    data = reply.data
    by_id = {p["printer_id"]: p for p in data["printers"]}
    assert by_id[ok]["eligible"] is True
    assert by_id[ok]["reasons"] == []
    assert _codes(by_id[wrong_model]) == {"MODEL_MISMATCH"}
    assert _codes(by_id[wrong_nozzle]) == {"NOZZLE_MISMATCH"}
    assert _codes(by_id[wrong_colour]) == {"COLOR_MISMATCH"}
    assert _codes(by_id[wrong_material]) == {"MATERIAL_MISMATCH"}
    assert _codes(by_id[few_tags]) == {"MISSING_TAGS"}
    assert "enclosed" in by_id[few_tags]["reasons"][0]["message"]
    assert _codes(by_id[maint]) == {"MAINTENANCE"}
    assert _codes(by_id[off]) == {"AUTO_DISPATCH_OFF"}
    assert "OFFLINE" in _codes(by_id[dark])
    assert data["eligible_printer_count"] == 1
    assert data["auto_dispatch_enabled"] is False

    await farm.set_dispatch(True)
    started = await farm.wait_job(job["id"], "printing")
    assert started["printer_id"] == ok
    assert (
        await farm.api.get(f"/jobs/{job['id']}/eligibility", key="read")
    ).code == "INVALID_STATE"
    assert (await farm.api.get("/jobs/nope/eligibility", key="read")).code == "JOB_NOT_FOUND"


async def test_ams_tray_satisfies_colour(farm: Farm) -> None:
    printer = await farm.add_printer(
        "AMS",
        has_ams=True,
        current_color="White",
        current_color_hex="#FFFFFF",
        connection={"has_ams": True},
    )
    await farm.wait_for(lambda: farm.api.farm.live.get(printer).trays, what="trays")
    job = await farm.enqueue(await farm.add_file(), color="Blue", filament_type="PLA")
    data = (await farm.api.get(f"/jobs/{job['id']}/eligibility", key="read")).data
    assert data["printers"][0]["eligible"] is True  # tray 3 holds blue PLA
    red_pla = await farm.enqueue(await farm.add_file(), color="#FF0000", filament_type="PLA")
    data = (await farm.api.get(f"/jobs/{red_pla['id']}/eligibility", key="read")).data
    assert _codes(data["printers"][0]) == {"COLOR_MISMATCH"}  # red is PETG, not PLA


async def test_farm_wide_switch_and_manual_assignment(farm: Farm) -> None:
    assert (await farm.api.get("/dispatch/settings", key="read")).data["enabled"] is False
    printer = await farm.add_printer("Rig")
    job = await farm.enqueue(await farm.add_file())
    await farm.api.farm.dispatcher.run_pass()  # a manual pass still works...
    await farm.wait_job(job["id"], "printing")
    second = await farm.enqueue(await farm.add_file())
    await asyncio.sleep(0.3)
    assert (await farm.job(second["id"]))["status"] == "queued"  # ...but nothing automatic
    await farm.wait_job(job["id"], "completed")
    await farm.control(printer, "clear_bed")
    # manual assignment with PATCH + start works while auto-dispatch is off
    patched = await farm.api.patch(
        f"/jobs/{second['id']}", json={"printer_id": printer}, key="write"
    )
    assert patched.data["printer_id"] == printer
    assert (await farm.api.post(f"/jobs/{second['id']}/start", key="control")).data[
        "status"
    ] == "printing"


async def test_switch_persists_and_validates(farm: Farm) -> None:
    api = farm.api
    assert (
        await api.put("/dispatch/settings", json={"enabled": "yes"}, key="write")
    ).code == "VALIDATION_ERROR"
    assert (await api.put("/dispatch/settings", json={"enabled": True}, key="read")).status == 403
    assert (await api.get("/dispatch/settings", key="write")).status == 403
    assert (await api.post("/dispatch/run", json={}, key="read")).status == 403
    assert (await api.get("/dispatch/settings", key="invalid")).status == 401
    await farm.set_dispatch(True)
    dispatcher = api.farm.dispatcher
    dispatcher.enabled = False  # forget the cached value: the stored one must come back
    await dispatcher.start()
    assert dispatcher.enabled is True
    await dispatcher.stop()


async def test_per_printer_switch(farm: Farm) -> None:
    off = await farm.add_printer("Off", auto_dispatch=False)
    job = await farm.enqueue(await farm.add_file())
    await farm.set_dispatch(True)
    await asyncio.sleep(0.4)
    assert (await farm.job(job["id"]))["status"] == "queued"
    await farm.api.patch(f"/printers/{off}", json={"auto_dispatch": True}, key="write")
    assert (await farm.wait_job(job["id"], "printing"))["printer_id"] == off


async def test_priority_then_age_and_preassigned(farm: Farm) -> None:
    a = await farm.add_printer("A")
    file_id = await farm.add_file()
    old = await farm.enqueue(file_id)
    urgent = await farm.enqueue(file_id, priority=10)
    result = await farm.api.post("/dispatch/run", json={}, key="control")
    assert result.data["started"] == 1
    assert (await farm.job(urgent["id"]))["status"] == "printing"
    assert (await farm.job(old["id"]))["status"] == "queued"
    b = await farm.add_printer("B")
    pinned = await farm.enqueue(file_id, printer_id=a, priority=50)  # waits for A, not B
    await farm.api.post("/dispatch/run", json={}, key="control")
    assert (await farm.job(old["id"]))["printer_id"] == b
    assert (await farm.job(pinned["id"]))["status"] == "queued"
    history = (await farm.api.get("/dispatch/history", key="read")).data
    assert {h["outcome"] for h in history} == {"started"}
    assert len(history) == 2


async def test_failed_start_unassigns_and_cools_down(farm: Farm) -> None:
    printer = await farm.add_printer("Rig")
    job = await farm.enqueue(await farm.add_file())
    farm.sim(printer).hang_commands(True)  # type: ignore[union-attr]
    result = (await farm.api.post("/dispatch/run", json={}, key="control")).data
    assert result["started"] == 0
    assert result["attempts"][0]["error_code"] == "HUB_COMMAND_FAILED"
    after = await farm.job(job["id"])
    assert after["status"] == "queued"
    assert after["printer_id"] is None
    data = (await farm.api.get(f"/jobs/{job['id']}/eligibility", key="read")).data
    assert "COOLDOWN" in _codes(data["printers"][0])
    farm.sim(printer).hang_commands(False)  # type: ignore[union-attr]


async def test_racing_passes_never_start_a_printer_twice(farm: Farm) -> None:
    printers = [await farm.add_printer(f"P{i}") for i in range(3)]
    file_id = await farm.add_file()
    jobs = [await farm.enqueue(file_id) for _ in range(12)]
    dispatcher = farm.api.farm.dispatcher
    results = await asyncio.gather(*(dispatcher.run_pass() for _ in range(8)))
    started = [a for r in results for a in r if a.outcome == "started"]
    assert sorted(a.printer_id for a in started) == sorted(printers)
    states = [(await farm.job(j["id"])) for j in jobs]
    printing = [j for j in states if j["status"] == "printing"]
    assert len(printing) == 3
    assert {j["printer_id"] for j in printing} == set(printers)
    assert all(j["printer_id"] is None for j in states if j["status"] == "queued")


def test_plan_is_pure_and_dedupes() -> None:
    printers = [
        PrinterInfo(id=f"p{i}", name=f"p{i}", slots=(Slot("PLA", "Black", "#000000"),))
        for i in range(3)
    ]
    printers[0].awaiting_bed_clear = True
    jobs = [JobInfo(id=f"j{i}", filament_type="PLA", colour="black") for i in range(5)]
    jobs.append(JobInfo(id="petg", filament_type="PETG", priority=99))
    pairs = plan(jobs, printers)
    assert [(j.id, p.id) for j, p in pairs] == [("j0", "p1"), ("j1", "p2")]
    assert [r.code for r in eligibility(jobs[-1], printers[1])] == ["MATERIAL_MISMATCH"]


@pytest.mark.parametrize(
    ("job_model", "printer_model", "ok"),
    [
        ("MK4", "Original Prusa MK4", True),
        ("X1 Carbon", "MK4", False),
        (None, "MK4", True),
    ],
)
def test_model_rule(job_model: str | None, printer_model: str, ok: bool) -> None:
    job = JobInfo(id="j", model=job_model)
    printer = PrinterInfo(id="p", name="p", model=printer_model)
    assert (not eligibility(job, printer)) is ok


def test_undeclared_filament_does_not_block() -> None:
    unknown = PrinterInfo(id="p", name="p", slots=(Slot(None, None, None),))
    typed = PrinterInfo(id="q", name="q", slots=(Slot("PLA", None, None),))
    job = JobInfo(id="j", filament_type="PLA", colour="Red")
    assert eligibility(job, unknown) == []
    assert eligibility(job, typed) == []  # colour unknown: allowed
    assert [r.code for r in eligibility(JobInfo(id="k", filament_type="PETG"), typed)] == [
        "MATERIAL_MISMATCH"
    ]


async def test_job_whose_file_vanished_does_not_block_printers(farm: Farm) -> None:
    from sqlalchemy import update

    from apf_core.storage.tables.spine import jobs

    printer = await farm.add_printer("Rig")
    file_id = await farm.add_file()
    broken = await farm.enqueue(file_id, priority=10)
    good = await farm.enqueue(file_id)
    async with farm.api.farm.db.begin() as conn:
        await conn.execute(update(jobs).where(jobs.c.id == broken["id"]).values(print_file_id=None))
    first = (await farm.api.post("/dispatch/run", json={}, key="control")).data
    assert first["attempts"][0]["error_code"] == "FILE_NOT_FOUND"
    second = (await farm.api.post("/dispatch/run", json={}, key="control")).data
    assert second["started"] == 1
    assert (await farm.job(good["id"]))["printer_id"] == printer
    assert (await farm.job(broken["id"]))["status"] == "queued"


async def test_history_is_pruned(farm: Farm) -> None:
    from datetime import timedelta

    from sqlalchemy import func, insert, select

    from apf_core.storage.tables.dispatch import dispatch_attempts
    from apf_core.timeutil import utcnow

    db = farm.api.farm.db
    async with db.begin() as conn:
        for age in (40, 1):
            await conn.execute(
                insert(dispatch_attempts).values(
                    job_id="j",
                    printer_id="p",
                    outcome="started",
                    created_at=utcnow() - timedelta(days=age),
                )
            )
    assert await farm.api.farm.dispatcher.prune(force=True) == 1
    async with db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(dispatch_attempts)) == 1
