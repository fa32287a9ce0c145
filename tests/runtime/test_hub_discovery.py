"""A remote hub scans its own LAN when asked over the hub link (real broker, real agent,
real SSDP datagrams on loopback)."""

from __future__ import annotations

import asyncio
import socket

from apf_core.discovery.scan import ScanOptions
from apf_core.hub.agent import HubAgent
from tests.discovery.test_ssdp_parse import notify
from tests.runtime.conftest import Farm
from tests.runtime.test_hubs import HEARTBEAT, agents, create_hub, wait_hub  # noqa: F401


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _announce(port: int) -> None:
    await asyncio.sleep(0.3)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"NOTIFY * HTTP/1.1\r\n\r\n", ("127.0.0.1", port))  # no headers: ignored
        sender.sendto(notify(USN="01P00A000000042"), ("127.0.0.1", port))


async def test_a_remote_hub_scans_its_lan(
    farm: Farm,
    broker_url: str,
    agents: list[HubAgent],  # noqa: F811
) -> None:
    hub = await create_hub(farm, broker_url)
    port = _free_udp_port()
    options = ScanOptions(ssdp_port=port, interfaces=("127.0.0.1",))
    agent = HubAgent(hub["token"], broker_url, heartbeat=HEARTBEAT, discovery=options)
    await agent.start()
    agents.append(agent)
    await wait_hub(farm, hub["id"], True)

    sending = asyncio.ensure_future(_announce(port))
    path = f"/hubs/{hub['id']}/discovered-printers"
    reply = await farm.api.post(f"{path}/scan", key="write", json={"seconds": 1})
    await sending
    assert reply.status == 200, reply.body
    (printer,) = reply.data["printers"]
    assert (printer["protocol"], printer["serial"], printer["ip"], printer["model"]) == (
        "bambu",
        "01P00A000000042",
        "192.168.1.50",
        "P1S",
    )
    assert (await farm.api.get(path, key="read")).data["printers"] == [printer]

    added = await farm.api.post(
        f"{path}/{printer['id']}/add", key="write", json={"connection": {"access_code": "1234"}}
    )
    assert added.status == 201 and added.data["hub_id"] == hub["id"]

    await agent.stop()
    await wait_hub(farm, hub["id"], False)
    offline = await farm.api.post(f"{path}/scan", key="write", json={"seconds": 1})
    assert offline.status == 503 and offline.code == "HUB_OFFLINE"
