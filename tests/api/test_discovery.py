"""LAN discovery through the API: fake printers announce themselves on loopback (real
zeroconf services, real SSDP datagrams), a scan finds them, one call registers one."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert, select
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from apf_core.storage.tables.spine import hubs, printers
from apf_core.timeutil import new_id, utcnow

from ..discovery.test_ssdp_parse import notify


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SSDP_PORT = _free_udp_port()


@pytest.fixture
def farm_options() -> dict[str, Any]:
    return {
        "demo": False,
        "discovery_seconds": 1.0,
        "discovery_ssdp_port": SSDP_PORT,
        "discovery_interfaces": ("127.0.0.1",),
    }


def _service(kind: str, name: str, port: int, **txt: str) -> ServiceInfo:
    service_type = f"_{kind}._tcp.local."
    return ServiceInfo(
        service_type,
        f"{name}.{service_type}",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=port,
        properties={"path": "/", **txt},
        server=f"{name.lower().replace(' ', '-')}.local.",
    )


@pytest.fixture
async def announced() -> AsyncIterator[None]:
    """OctoPrint, Moonraker and PrusaLink (also announced as OctoPrint, as it does)."""
    zc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    services = [
        _service("octoprint", "Ender Pi", 5000, version="1.10.2"),
        _service("moonraker", "Voron", 7125),
        _service("prusalink", "MK4 Bench", 8080),
        _service("octoprint", "MK4 Bench legacy", 8080),
    ]
    try:
        await asyncio.gather(*(zc.async_register_service(s) for s in services))
        yield
    finally:
        await zc.async_close()


async def _bambu_during_scan() -> None:
    await asyncio.sleep(0.3)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for datagram in (
            b"\x00\xffnot ssdp at all",
            notify(USN=None),
            notify(NT="upnp:rootdevice", USN="01P00A000000001"),
            notify(USN="bad serial; rm -rf"),
            notify(),
            notify(),  # printers repeat themselves: still one entry
        ):
            sender.sendto(datagram, ("127.0.0.1", SSDP_PORT))


async def test_a_scan_finds_the_announced_printers(api, announced) -> None:
    hub = api.farm.embedded_hub_id
    before = (await api.get(f"/hubs/{hub}/discovered-printers", key="read")).data
    assert before["discovered_at"] is None and before["printers"] == []
    sending = asyncio.ensure_future(_bambu_during_scan())
    started = time.monotonic()
    reply = await api.post(f"/hubs/{hub}/discovered-printers/scan", key="write", json={})
    assert time.monotonic() - started < 3
    await sending
    found = {p["protocol"]: p for p in reply.data["printers"]}
    assert sorted(p["protocol"] for p in reply.data["printers"]) == [
        "bambu",
        "moonraker",
        "octoprint",
        "prusalink",
    ]
    assert found["octoprint"] | {"id": None} == {
        "id": None,
        "protocol": "octoprint",
        "name": "Ender Pi",
        "ip": "127.0.0.1",
        "port": 5000,
        "source": "mdns",
        "hostname": "ender-pi.local",
        "model": None,
        "serial": None,
        "firmware_version": "1.10.2",
        "service_type": "_octoprint._tcp",
        "url": "http://127.0.0.1:5000",
        "is_registered": False,
        "printer_id": None,
    }
    assert found["prusalink"]["url"] == "http://127.0.0.1:8080"
    assert found["moonraker"]["port"] == 7125
    bambu = found["bambu"]
    assert (bambu["ip"], bambu["serial"], bambu["model"], bambu["model_code"]) == (
        "192.168.1.50",
        "01S00C123456789",
        "P1S",
        "C12",
    )
    stored = (await api.get(f"/hubs/{hub}/discovered-printers", key="read")).data
    assert stored["printers"] == reply.data["printers"]
    assert isinstance(stored["discovered_at"], int) and stored["discovered_at"] > 10**12


async def test_a_scan_that_hears_nothing_stores_an_empty_list(api) -> None:
    hub = api.farm.embedded_hub_id
    reply = await api.post(
        f"/hubs/{hub}/discovered-printers/scan", key="write", json={"seconds": 0.5}
    )
    assert reply.data["printers"] == [] and isinstance(reply.data["discovered_at"], int)
    async with api.farm.db.read() as conn:
        row = (await conn.execute(select(hubs).where(hubs.c.id == hub))).mappings().one()
    assert row["discovered_printers"] == [] and row["discovered_at"] is not None
    bad = await api.post(f"/hubs/{hub}/discovered-printers/scan", key="write", json={"seconds": 99})
    assert bad.status == 400 and bad.code == "VALIDATION_ERROR"


async def _store(api, entries: list[dict[str, Any]]) -> None:
    from apf_core.discovery.model import Found
    from apf_core.services.discovery import stored_entry

    values = [stored_entry(Found(**e)) for e in entries]
    async with api.farm.db.begin() as conn:
        await conn.execute(
            hubs.update()
            .where(hubs.c.id == api.farm.embedded_hub_id)
            .values(discovered_printers=values, discovered_at=utcnow())
        )


BAMBU = {
    "protocol": "bambu",
    "name": "Bench P1S",
    "ip": "192.168.1.50",
    "port": None,
    "source": "ssdp",
    "model": "C12",
    "serial": "01S00C123456789",
}
OCTO = {"protocol": "octoprint", "name": "Ender", "ip": "10.0.0.6", "port": 5000, "source": "mdns"}


async def test_add_a_discovered_printer_in_one_call(api) -> None:
    await _store(api, [BAMBU, OCTO])
    hub = api.farm.embedded_hub_id
    listing = (await api.get(f"/hubs/{hub}/discovered-printers", key="read")).data["printers"]
    ids = {p["protocol"]: p["id"] for p in listing}
    base = f"/hubs/{hub}/discovered-printers"

    missing = await api.post(f"{base}/{ids['bambu']}/add", key="write", json={})
    assert missing.status == 400 and missing.code == "VALIDATION_ERROR"
    assert missing.body["details"] == [
        {"field": "connection.access_code", "message": "is required"}
    ]
    typo = await api.post(f"{base}/{ids['bambu']}/add", key="write", json={"nmae": "x"})
    assert typo.status == 400 and "nmae" in str(typo.body["details"])

    added = await api.post(
        f"{base}/{ids['bambu']}/add", key="write", json={"connection": {"access_code": "12345678"}}
    )
    assert added.status == 201, added.body
    printer = added.data
    assert (printer["name"], printer["protocol"], printer["model"], printer["manufacturer"]) == (
        "Bench P1S",
        "bambu",
        "P1S",
        "Bambu Lab",
    )
    assert "connection" not in printer and printer["hub_id"] == hub
    async with api.farm.db.read() as conn:
        conn_row = await conn.scalar(
            select(printers.c.connection).where(printers.c.id == printer["id"])
        )
    assert conn_row == {
        "host": "192.168.1.50",
        "serial": "01S00C123456789",
        "access_code": "12345678",
    }

    again = await api.post(
        f"{base}/{ids['bambu']}/add", key="write", json={"connection": {"access_code": "1"}}
    )
    assert again.status == 409 and again.code == "PRINTER_ALREADY_REGISTERED"
    assert again.body["printer_id"] == printer["id"]

    octo = await api.post(
        f"{base}/{ids['octoprint']}/add",
        key="write",
        json={"name": "Ender 3", "location": "Shelf", "connection": {"api_key": "k" * 32}},
    )
    assert octo.status == 201 and octo.data["name"] == "Ender 3"
    listing = (await api.get(base, key="read")).data["printers"]
    assert {p["protocol"]: p["printer_id"] for p in listing} == {
        "bambu": printer["id"],
        "octoprint": octo.data["id"],
    }
    assert all(p["is_registered"] for p in listing)

    unknown = await api.post(f"{base}/nope/add", key="write", json={})
    assert unknown.status == 404 and unknown.code == "DISCOVERED_PRINTER_NOT_FOUND"


async def test_a_printer_registered_by_hand_counts_as_registered(api) -> None:
    await _store(api, [OCTO])
    made = await api.post(
        "/printers",
        key="write",
        json={
            "name": "Ender",
            "protocol": "octoprint",
            "connection": {"url": "http://10.0.0.6:5000/", "api_key": "x"},
        },
    )
    assert made.status == 201
    hub = api.farm.embedded_hub_id
    (entry,) = (await api.get(f"/hubs/{hub}/discovered-printers", key="read")).data["printers"]
    assert entry["is_registered"] is True and entry["printer_id"] == made.data["id"]


async def test_scopes_and_remote_hubs(api) -> None:
    hub = api.farm.embedded_hub_id
    denied = await api.post(f"/hubs/{hub}/discovered-printers/scan", key="read", json={})
    assert denied.status == 403
    denied = await api.get(f"/hubs/{hub}/discovered-printers", key="write")
    assert denied.status == 403
    remote = new_id()
    now = utcnow()
    async with api.farm.db.begin() as conn:
        await conn.execute(
            insert(hubs).values(
                id=remote,
                name="Garage",
                kind="remote",
                is_online=False,
                token_hash="x" * 64,
                created_at=now,
                updated_at=now,
            )
        )
    refused = await api.post(f"/hubs/{remote}/discovered-printers/scan", key="write", json={})
    assert refused.status == 503 and refused.code == "HUB_OFFLINE"  # no link: not connected
    missing = await api.post("/hubs/nope/discovered-printers/scan", key="write", json={})
    assert missing.status == 404 and missing.code == "HUB_NOT_FOUND"
