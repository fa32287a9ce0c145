"""Remote hubs over MQTT: registration, heartbeat, telemetry relay, commands, drops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from apf_core.hub.agent import HubAgent
from apf_core.hub.protocol import token_hash
from apf_core.storage.tables.spine import hubs
from apf_core.timeutil import utcnow
from tests.runtime.broker import Broker
from tests.runtime.conftest import FAST, Farm

HEARTBEAT = 0.3


async def create_hub(farm: Farm, broker: str, name: str = "Garage") -> dict[str, Any]:
    farm.api.farm.hub_broker_url = broker
    reply = await farm.api.post("/hubs", json={"name": name}, key="write")
    assert reply.status == 201, reply.body
    return dict(reply.data)


async def hub_printer(farm: Farm, hub_id: str, **connection: Any) -> str:
    body = {
        "name": "Remote MK4",
        "protocol": "simulated",
        "model": "MK4",
        "hub_id": hub_id,
        "current_filament_type": "PLA",
        "connection": {**FAST, **connection},
    }
    reply = await farm.api.post("/printers", json=body, key="write")
    assert reply.status == 201, reply.body
    return str(reply.data["id"])


@pytest.fixture
async def agents() -> AsyncIterator[list[HubAgent]]:
    running: list[HubAgent] = []
    yield running
    for agent in running:
        await agent.stop()


async def start_agent(agents: list[HubAgent], token: str, broker: str) -> HubAgent:
    agent = HubAgent(token, broker, heartbeat=HEARTBEAT)
    await agent.start()
    agents.append(agent)
    return agent


async def wait_hub(farm: Farm, hub_id: str, online: bool) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        data = (await farm.api.get(f"/hubs/{hub_id}", key="read")).data
        return data if data["is_online"] is online else None

    return dict(await farm.wait_for(check, what=f"hub online={online}"))


async def test_create_hub_and_scopes(farm: Farm, broker_url: str) -> None:
    api = farm.api
    assert (await api.post("/hubs", json={"name": "x"}, key="read")).status == 403
    assert (await api.post("/hubs", json={}, key="write")).code == "VALIDATION_ERROR"
    hub = await create_hub(farm, broker_url)
    assert hub["token"].startswith("apfhub_")
    assert hub["is_online"] is False
    async with api.farm.db.read() as conn:
        stored = await conn.scalar(select(hubs.c.token_hash).where(hubs.c.id == hub["id"]))
    assert stored == token_hash(hub["token"])  # only the hash is kept
    listed = {h["id"]: h for h in (await api.get("/hubs", key="read")).data}
    assert "token" not in listed[hub["id"]]
    assert listed[hub["id"]]["last_seen_at"] is None
    detail = (await api.get(f"/hubs/{hub['id']}", key="read")).data
    assert detail["is_stale"] is True
    assert "token" not in detail
    bad = await api.post(
        "/printers", json={"name": "p", "protocol": "simulated", "hub_id": "nope"}, key="write"
    )
    assert bad.code == "HUB_NOT_FOUND"


async def test_remote_hub_runs_a_print(farm: Farm, broker_url: str, agents: list[HubAgent]) -> None:
    hub = await create_hub(farm, broker_url)
    printer = await hub_printer(farm, hub["id"], has_light=False)
    agent = await start_agent(agents, hub["token"], broker_url)
    data = await wait_hub(farm, hub["id"], True)
    assert data["is_stale"] is False
    assert data["last_seen_at"]
    assert data["firmware_version"]
    assert data["printer_count"] == 1
    assert data["printers"][0]["id"] == printer
    await farm.wait_for(lambda: farm.online(printer), what="remote printer online")
    status = await farm.status(printer)
    assert status["hub_online"] is True
    assert status["nozzle_temp"] is not None

    job = await farm.enqueue(await farm.add_file(), printer_id=printer)
    started = await farm.api.post(f"/jobs/{job['id']}/start", key="control")
    assert started.data["status"] == "printing", started.body
    assert (await farm.control(printer, "pause")).data["status"] == "paused"
    assert (await farm.control(printer, "resume")).data["status"] == "printing"
    light = await farm.api.post(f"/printers/{printer}/light", json={"state": True}, key="control")
    assert light.code == "CAPABILITY_NOT_SUPPORTED"
    await farm.wait_job(job["id"], "completed", timeout=20)
    assert (await farm.printer(printer))["awaiting_bed_clear"] is True
    assert agent.drivers[printer].state.current_file == job["file_name"]


async def test_hub_drop_fails_commands_not_silently(
    farm: Farm, broker_url: str, agents: list[HubAgent]
) -> None:
    hub = await create_hub(farm, broker_url)
    printer = await hub_printer(farm, hub["id"])
    agent = await start_agent(agents, hub["token"], broker_url)
    await farm.wait_for(lambda: farm.online(printer), what="remote printer online")
    agent.drivers[printer].hang_commands(True)  # type: ignore[attr-defined]
    farm.api.farm.settings.command_timeout_seconds = 10
    pending = asyncio.create_task(
        farm.api.post(f"/printers/{printer}/light", json={"state": True}, key="control")
    )
    link = farm.api.farm.hub_link.link
    await farm.wait_for(lambda: link.sessions[hub["id"]].pending, what="command pending")
    # the hub vanishes without a goodbye: heartbeats stop, the watchdog notices
    for task in tuple(agent._tasks):
        task.cancel()
    agent._mqtt._client.loop_stop()  # type: ignore[union-attr]
    reply = await asyncio.wait_for(pending, 8)
    assert reply.status == 503, reply.body
    assert reply.code == "HUB_OFFLINE"
    await wait_hub(farm, hub["id"], False)
    status = await farm.status(printer)
    assert status["hub_online"] is False
    assert status["nozzle_temp"] is None
    again = await farm.api.post(f"/printers/{printer}/light", json={"state": True}, key="control")
    assert again.code == "HUB_OFFLINE"
    agents.remove(agent)
    agent._mqtt._client.disconnect()  # type: ignore[union-attr]
    for driver in agent.drivers.values():
        await driver.close()


async def test_killed_hub_process_goes_offline_by_last_will(farm: Farm, broker_url: str) -> None:
    hub = await create_hub(farm, broker_url)
    await hub_printer(farm, hub["id"])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apf_core.cli",
            "hub",
            "--server",
            farm.api.server.url,
            "--token",
            hub["token"],
            "--broker",
            broker_url,
            "--heartbeat",
            "5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        await wait_hub(farm, hub["id"], True)
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 5)
        # heartbeats are 5 s apart, so only the broker's last will can make this quick
        data = await wait_hub(farm, hub["id"], False)
        assert data["last_seen_at"] is not None
    finally:
        if process.poll() is None:
            process.kill()


async def test_stale_hub(farm: Farm, broker_url: str) -> None:
    hub = await create_hub(farm, broker_url)
    async with farm.api.farm.db.begin() as conn:
        await conn.execute(
            update(hubs)
            .where(hubs.c.id == hub["id"])
            .values(is_online=True, last_seen_at=utcnow() - timedelta(minutes=3))
        )
    data = (await farm.api.get(f"/hubs/{hub['id']}", key="read")).data
    assert data["is_stale"] is True
    assert data["is_online"] is False
    connection = (await farm.api.get(f"/hubs/{hub['id']}/connection", key="read")).data
    assert connection["is_stale"] is True
    async with farm.api.farm.db.begin() as conn:
        await conn.execute(
            update(hubs)
            .where(hubs.c.id == hub["id"])
            .values(last_seen_at=utcnow() - timedelta(seconds=30))
        )
    data = (await farm.api.get(f"/hubs/{hub['id']}", key="read")).data
    assert data["is_stale"] is False
    assert data["is_online"] is True


async def test_broker_restart_keeps_hub_state(
    farm: Farm, private_broker: Broker, agents: list[HubAgent]
) -> None:
    hub = await create_hub(farm, private_broker.url)
    printer = await hub_printer(farm, hub["id"])
    await start_agent(agents, hub["token"], private_broker.url)
    await farm.wait_for(lambda: farm.online(printer), what="remote printer online")
    await private_broker.stop()
    link = farm.api.farm.hub_link.link
    await farm.wait_for(lambda: not link.connected, what="link notices the broker is gone")
    during = await farm.api.post(f"/printers/{printer}/light", json={"state": True}, key="control")
    assert during.code == "HUB_OFFLINE"  # refused at once, never queued and lost
    assert (await farm.api.get(f"/hubs/{hub['id']}", key="read")).data["is_online"] is True
    await private_broker.start()
    await farm.wait_for(lambda: link.connected, timeout=40, what="link reconnected")
    await farm.wait_for(lambda: farm.online(printer), timeout=40, what="printer back")
    reply = await farm.api.post(f"/printers/{printer}/light", json={"state": True}, key="control")
    assert reply.status == 200, reply.body
    data = (await farm.api.get(f"/hubs/{hub['id']}", key="read")).data
    assert data["is_online"] is True
    assert data["is_stale"] is False


def test_hub_cli_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    from apf_core.cli import build_parser
    from apf_core.hub.cli import default_broker

    parser = build_parser()
    args = parser.parse_args(["hub", "--server", "http://apf.lan:8580", "--token", ""])
    assert args.handler(args) == 2
    assert "--token is required" in capsys.readouterr().err
    args = parser.parse_args(["hub", "--server", "x", "--token", "t", "--heartbeat", "0"])
    assert args.handler(args) == 2
    assert default_broker("http://apf.lan:8580") == "mqtt://apf.lan:1883"
    assert default_broker("apf.lan") == "mqtt://apf.lan:1883"


def test_state_round_trip_and_malformed() -> None:
    from apf_core.drivers.base import PrinterMessage, PrinterState, Severity, Status, Tray
    from apf_core.hub.protocol import broker_address, parse_topic, state_from_dict, state_to_dict

    runout = PrinterMessage("0700_2000_0002_0001", Severity.SERIOUS, "AMS A Slot 1 ran out", "u")
    state = PrinterState(
        status=Status.PAUSED,
        progress=12.5,
        trays=(Tray(2, "PETG", "FF0000FF", 80.0, 0, 2), Tray(128, "ABS", unit=128, slot=0)),
        active_tray=2,
        messages=(runout, PrinterMessage("N1", Severity.INFO, "Notice")),
    )
    # over the wire (JSON) and back: messages and tray places survive
    assert state_from_dict(json.loads(json.dumps(state_to_dict(state)))) == state
    with pytest.raises(ValueError):
        state_from_dict({"status": "exploded"})
    with pytest.raises(ValueError):
        state_from_dict({"messages": [{"code": "X", "severity": "dire", "text": "t"}]})
    assert parse_topic("apf/v1/hub/abc/up/state") == ("abc", ("up", "state"))
    assert parse_topic("other/topic") is None
    assert broker_address("mqtts://b:8884") == ("b", 8884, True)
    assert broker_address("b") == ("b", 1883, False)


async def test_hub_missing_heartbeats_then_back(
    farm: Farm, broker_url: str, agents: list[HubAgent]
) -> None:
    hub = await create_hub(farm, broker_url)
    printer = await hub_printer(farm, hub["id"])
    agent = await start_agent(agents, hub["token"], broker_url)
    await farm.wait_for(lambda: farm.online(printer), what="remote printer online")
    agent.heartbeat = 1000.0  # heartbeats stop (the MQTT link stays up)
    await wait_hub(farm, hub["id"], False)
    assert not farm.online(printer)
    agent.heartbeat = HEARTBEAT
    agent._spawn(agent._heartbeats())
    await wait_hub(farm, hub["id"], True)
    # the hub re-sends its printers' states, so an idle printer is online again at once
    await farm.wait_for(lambda: farm.online(printer), what="printer online again")
    reply = await farm.api.post(f"/printers/{printer}/light", json={"state": True}, key="control")
    assert reply.status == 200, reply.body


@pytest.fixture
async def webcam() -> AsyncIterator[str]:
    """A loopback HTTP camera: ``/small`` is a little JPEG, ``/big`` one over the hub's limit."""
    from apf_core.hub.protocol import MAX_SNAPSHOT_BYTES
    from tests.drivers._moonraker_peer import start_fake_webcam

    runner, url = await start_fake_webcam(
        {
            "small": b"\xff\xd8\xff\xe0" + b"hub-camera" * 50 + b"\xff\xd9",
            "big": b"\xff\xd8\xff\xe0" + b"\x00" * (MAX_SNAPSHOT_BYTES + 10) + b"\xff\xd9",
        }
    )
    yield url.rsplit("/", 1)[0]
    await runner.cleanup()


async def test_camera_snapshot_and_power_devices_through_a_remote_hub(
    farm: Farm, broker_url: str, agents: list[HubAgent], webcam: str
) -> None:
    hub = await create_hub(farm, broker_url)
    camera = await hub_printer(farm, hub["id"], snapshot_url=f"{webcam}/small")
    await start_agent(agents, hub["token"], broker_url)
    await wait_hub(farm, hub["id"], True)
    await farm.wait_for(lambda: farm.online(camera), what="remote printer online")
    assert farm.api.farm.drivers.driver(camera) is None  # it runs on the hub, not here

    reply = await farm.api.get(f"/printers/{camera}/camera/snapshot", key="read")
    assert reply.status == 200, reply.body
    assert reply.headers["Content-Type"] == "image/jpeg"
    assert reply.body == b"\xff\xd8\xff\xe0" + b"hub-camera" * 50 + b"\xff\xd9"

    # the simulator has no [power] devices: the hub says so, and so does the API
    devices = await farm.api.get(f"/printers/{camera}/power-devices", key="read")
    assert devices.status == 400 and devices.code == "CAPABILITY_NOT_SUPPORTED", devices.body
    assert "power" in devices.body["message"]

    await farm.api.patch(
        f"/printers/{camera}",
        json={"connection": {**FAST, "snapshot_url": f"{webcam}/big"}},
        key="write",
    )

    async def too_large() -> bool:
        reply = await farm.api.get(f"/printers/{camera}/camera/snapshot", key="read")
        return reply.status != 200 and reply.code == "SNAPSHOT_TOO_LARGE"

    await farm.wait_for(too_large, what="the big picture refused by the hub")
    reply = await farm.api.get(f"/printers/{camera}/camera/snapshot", key="read")
    assert reply.status == 503 and "at most 2,097,152 (2 MiB)" in reply.body["message"]

    no_url = {**FAST, "snapshot_url": ""}
    patched = await farm.api.patch(f"/printers/{camera}", json={"connection": no_url}, key="write")
    assert patched.status == 200, patched.body

    async def no_camera() -> bool:
        reply = await farm.api.get(f"/printers/{camera}/camera/snapshot", key="read")
        return reply.status != 200 and reply.code == "CAPABILITY_NOT_SUPPORTED"

    await farm.wait_for(no_camera, what="a printer without a camera")
