"""A real WebSocket client follows a job printed by a simulated printer."""

from __future__ import annotations

from tests.api.conftest import Api

from .conftest import demo_file_id, open_stream


async def test_websocket_client_follows_a_simulated_print(api: Api) -> None:
    reload = api.farm.reload_printers
    assert reload is not None, "the farm runs without its driver runtime (apf_core/wiring.py)"
    stream = await open_stream(api, params={"types": "job.*,printer.*"})
    printer = await api.post(
        "/printers",
        json={"name": "Sim 1", "protocol": "simulated", "model": "Sim", "auto_dispatch": False,
              "connection": {"speed": 200, "print_seconds": 600, "tick": 0.05}},
        key="all",
    )
    assert printer.status == 201, printer.body
    printer_id = printer.data["id"]
    await reload()
    frames = await stream.events_until(
        lambda f: f["type"] == "printer.online" and f["data"].get("printer_id", f["data"].get("id"))
        == printer_id, timeout=15,
    )
    job = await api.post(
        "/jobs", json={"print_file_id": await demo_file_id(api), "printer_id": printer_id},
        key="all",
    )
    assert job.status == 201, job.body
    job_id = job.data["id"]
    started = await api.post(f"/jobs/{job_id}/start", key="all")
    assert started.status == 200, started.body
    frames = await stream.events_until(
        lambda f: f["type"] in ("job.completed", "job.failed") and f["data"].get("id") == job_id,
        timeout=30,
    )
    mine = [f for f in frames if f["type"].startswith("job.") and
            (f["data"].get("id") == job_id or f["data"].get("job_id") == job_id)]
    types = [f["type"] for f in mine]
    assert types[0] == "job.created"
    assert "job.started" in types
    assert types[-1] == "job.completed", types
    assert types.index("job.started") < types.index("job.completed")
    progress = [f for f in frames if f["type"] == "job.progress"]
    assert progress, "no job.progress events while printing"
    ids = [f["id"] for f in frames]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    await stream.close()
