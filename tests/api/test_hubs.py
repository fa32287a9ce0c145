"""Hubs: the embedded hub, projections, staleness."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from apf_core.discovery.model import Found
from apf_core.services.discovery import stored_entry
from apf_core.storage.tables.spine import hubs
from apf_core.timeutil import new_id, utcnow

HUB_FIELDS = {
    "id",
    "name",
    "firmware_version",
    "hardware_version",
    "is_online",
    "last_seen_at",
    "printer_count",
    "claimed_at",
    "created_at",
    "updated_at",
}


async def test_embedded_hub_lists_its_printers(api) -> None:
    listing = (await api.get("/hubs", key="read")).data
    embedded = next(h for h in listing if h["id"] == api.farm.embedded_hub_id)
    assert set(embedded) >= HUB_FIELDS and "meta" not in listing
    assert embedded["is_online"] is True and embedded["printer_count"] == 4
    detail = (await api.get(f"/hubs/{embedded['id']}", key="read")).data
    assert detail["is_stale"] is False and {p["name"] for p in detail["printers"]} >= {"X1C", "MK4"}
    assert set(detail["printers"][0]) == {"id", "name", "model", "status"}
    for path in ("connection", "status"):
        snap = (await api.get(f"/hubs/{embedded['id']}/{path}", key="read")).data
        assert set(snap) == {
            "id",
            "name",
            "is_online",
            "last_seen_at",
            "firmware_version",
            "is_stale",
        }


async def test_stale_remote_hub_is_offline(api) -> None:
    hub_id = new_id()
    now = utcnow()
    async with api.farm.db.begin() as conn:
        await conn.execute(
            insert(hubs).values(
                id=hub_id,
                name="Garage",
                kind="remote",
                is_online=True,
                last_seen_at=now - timedelta(minutes=3),
                token_hash="x" * 64,
                discovered_printers=[
                    stored_entry(Found("bambu", "P1S", "192.168.1.20", None, "ssdp", serial="01P"))
                ],
                discovered_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    detail = (await api.get(f"/hubs/{hub_id}", key="read")).data
    assert detail["is_stale"] is True and detail["is_online"] is False
    assert "token_hash" not in detail and "ip" not in detail
    found = (await api.get(f"/hubs/{hub_id}/discovered-printers", key="read")).data
    assert found["printers"][0]["ip"] == "192.168.1.20"
    assert isinstance(found["discovered_at"], int) and found["discovered_at"] > 10**12


async def test_unknown_hub(api) -> None:
    for path in ("", "/connection", "/discovered-printers"):
        reply = await api.get(f"/hubs/nope{path}", key="read")
        assert reply.status == 404 and reply.code == "HUB_NOT_FOUND"
