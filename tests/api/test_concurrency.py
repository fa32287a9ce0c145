"""Many parallel writes to one row end exact."""

from __future__ import annotations

import asyncio


async def test_parallel_completions_add_up_on_one_printer(api) -> None:
    printer = (
        await api.post("/printers", json={"name": "Busy", "protocol": "simulated"}, key="write")
    ).data["id"]
    file_id = (await api.get("/jobs", key="read")).data[0]["print_file_id"]
    jobs = [
        (
            await api.post(
                "/jobs", json={"print_file_id": file_id, "printer_id": printer}, key="write"
            )
        ).data["id"]
        for _ in range(30)
    ]
    replies = await asyncio.gather(
        *(
            api.post(f"/jobs/{j}/complete", json={"actual_print_time_minutes": 7}, key="write")
            for j in jobs
        )
    )
    assert all(r.status == 200 for r in replies)
    detail = (await api.get(f"/printers/{printer}", key="read")).data
    assert detail["total_print_time"] == 30 * 7
    again = await asyncio.gather(
        *(api.post(f"/jobs/{j}/complete", json={}, key="write") for j in jobs)
    )
    assert {(r.status, r.code) for r in again} == {(409, "INVALID_STATE")}
    assert (await api.get(f"/printers/{printer}", key="read")).data["total_print_time"] == 210


async def test_parallel_patches_leave_a_consistent_row(api) -> None:
    printer = (
        await api.post("/printers", json={"name": "P", "protocol": "simulated"}, key="write")
    ).data["id"]
    names = [f"name-{i}" for i in range(25)]
    replies = await asyncio.gather(
        *(
            api.patch(f"/printers/{printer}", json={"name": n, "location": n}, key="write")
            for n in names
        )
    )
    assert all(r.status == 200 and r.data["name"] == r.data["location"] for r in replies)
    final = (await api.get(f"/printers/{printer}", key="read")).data
    assert final["name"] == final["location"] and final["name"] in names
