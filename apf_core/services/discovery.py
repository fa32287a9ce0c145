"""Printers a hub found on its LAN: run a scan, list what it found (marking those already
registered) and register one in a single call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from yarl import URL

from ..discovery.model import HTTP_PROTOCOLS, Found, found_from_dict, merge
from ..discovery.scan import ScanOptions, scan
from ..domain.control import ControlError, HubOffline
from ..errors import Conflict, NotFound, ServiceUnavailable
from ..net.urls import printer_url_from_options
from ..storage.tables.spine import hubs, printers
from ..timeutil import utcnow
from .common import fetch_one
from .printer_models import BAMBU_MODEL_CODES
from .printers import PrinterService

if TYPE_CHECKING:
    from ..farm import Farm

MANUFACTURERS = {"bambu": "Bambu Lab", "prusalink": "Prusa Research"}


def stored_entry(found: Found) -> dict[str, Any]:
    """What ``hubs.discovered_printers`` keeps for one printer (Bambu model codes named)."""
    entry = found.as_dict()
    if found.protocol == "bambu" and found.model:
        entry["model_code"] = found.model
        entry["model"] = BAMBU_MODEL_CODES.get(found.model.upper(), found.model)
    return entry


def _address(protocol: str, connection: Mapping[str, Any]) -> tuple[str, int] | None:
    try:
        url = URL(printer_url_from_options(protocol, connection).base)
    except (ValueError, TypeError):
        return None
    return (url.host or "").lower(), int(url.port or 80)


def registered_id(entry: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> str | None:
    """The printer already registered for a discovered entry: Bambu by serial, the HTTP
    front ends by host (IP or mDNS host name) and port."""
    protocol = entry.get("protocol")
    hosts = {str(h).lower() for h in (entry.get("ip"), entry.get("hostname")) if h}
    for row in rows:
        conn = row["connection"] or {}
        if protocol == "bambu" and row["protocol"] == "bambu":
            if (
                entry.get("serial")
                and str(conn.get("serial", "")).upper() == str(entry["serial"]).upper()
            ):
                return str(row["id"])
        elif protocol in HTTP_PROTOCOLS and row["protocol"] in HTTP_PROTOCOLS:
            address = _address(row["protocol"], conn)
            if address and address[0] in hosts and address[1] == int(entry.get("port") or 80):
                return str(row["id"])
    return None


def connection_for(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The connection fields a discovery already knows (credentials come from the caller)."""
    if entry["protocol"] == "bambu":
        return {"host": entry["ip"], "serial": entry["serial"]}
    return {"url": entry["url"]}


class DiscoveryService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    async def listing(self, hub_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await fetch_one(conn, hubs, hub_id, code="HUB_NOT_FOUND", label="Hub")
            query = select(printers.c.id, printers.c.protocol, printers.c.connection)
            rows = [dict(r) for r in (await conn.execute(query)).mappings()]
        entries = []
        for entry in row["discovered_printers"] or []:
            if isinstance(entry, dict):
                printer_id = registered_id(entry, rows)
                entries.append({**entry, "is_registered": bool(printer_id)})
                entries[-1]["printer_id"] = printer_id
        at = row["discovered_at"]
        return {
            "hub_id": hub_id,
            "discovered_at": int(at.timestamp() * 1000) if at else None,
            "printers": entries,
        }

    async def scan(self, hub_id: str, seconds: float | None = None) -> dict[str, Any]:
        """Scan the hub's LAN and store the result (an empty list is a result too): here for
        the embedded hub (a scan already running is joined, not repeated), over the hub
        link for a remote one."""
        async with self.db.read() as conn:
            row = await fetch_one(conn, hubs, hub_id, code="HUB_NOT_FOUND", label="Hub")
        if row["kind"] != "embedded":
            heard = await self._remote_scan(hub_id, seconds)
        else:
            heard = await self._local_scan(seconds)
        found = [stored_entry(f) for f in heard]
        async with self.db.begin() as conn:
            await conn.execute(
                update(hubs)
                .where(hubs.c.id == hub_id)
                .values(discovered_printers=found, discovered_at=utcnow())
            )
        return await self.listing(hub_id)

    async def _local_scan(self, seconds: float | None) -> list[Found]:
        running = self.farm.discovery_scan
        if running is None or running.done():
            settings = self.farm.settings
            options = ScanOptions(
                seconds=seconds or settings.discovery_seconds,
                ssdp_port=settings.discovery_ssdp_port,
                interfaces=settings.discovery_interfaces,
            )
            running = asyncio.get_running_loop().create_task(scan(options))
            self.farm.discovery_scan = running
        return await asyncio.shield(running)

    async def _remote_scan(self, hub_id: str, seconds: float | None) -> list[Found]:
        """The hub scans its own LAN over the hub link; its answer is checked entry by entry."""
        link = self.farm.hub_link.link if self.farm.hub_link is not None else None
        if link is None:
            raise ServiceUnavailable("The hub is offline", code="HUB_OFFLINE")
        try:
            entries = await link.scan(hub_id, seconds or self.farm.settings.discovery_seconds)
        except HubOffline as err:
            raise ServiceUnavailable(str(err), code="HUB_OFFLINE") from None
        except ControlError as err:
            raise ServiceUnavailable(str(err), code="HUB_COMMAND_FAILED") from None
        return merge([f for f in map(found_from_dict, entries) if f is not None])

    async def add(self, hub_id: str, discovered_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Register a discovered printer: protocol, address, serial, name and model come from
        the discovery; ``body`` adds credentials (``connection``) and may override the rest."""
        listing = await self.listing(hub_id)
        entry = next((p for p in listing["printers"] if p.get("id") == discovered_id), None)
        if entry is None or entry.get("protocol") not in (*HTTP_PROTOCOLS, "bambu"):
            raise NotFound(
                "No such printer in the hub's last scan", code="DISCOVERED_PRINTER_NOT_FOUND"
            )
        if entry["printer_id"]:
            raise Conflict(
                "This printer is already registered",
                code="PRINTER_ALREADY_REGISTERED",
                extra={"printer_id": entry["printer_id"]},
            )
        body = dict(body)
        connection = {**connection_for(entry), **(body.pop("connection", None) or {})}
        defaults = {
            "name": str(entry.get("name") or entry["ip"])[:120],
            "model": entry.get("model"),
            "manufacturer": MANUFACTURERS.get(entry["protocol"]),
        }
        create = {k: v for k, v in defaults.items() if v}
        create.update(body, protocol=entry["protocol"], connection=connection, hub_id=hub_id)
        return await PrinterService(self.farm).create(create)
