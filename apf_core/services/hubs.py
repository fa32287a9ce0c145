"""Hubs: the embedded hub (drivers in this process) and remote LAN hubs."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..storage.tables.spine import hubs, printers
from ..timeutil import new_id, utcnow
from .common import fetch_one, project

if TYPE_CHECKING:
    from ..farm import Farm

STALE_AFTER = timedelta(minutes=2)
HUB_FIELDS = (
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
)
CONNECTION_FIELDS = ("id", "name", "is_online", "last_seen_at", "firmware_version", "is_stale")


class HubService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.db = farm.db

    def _live(self, row: dict[str, Any]) -> dict[str, Any]:
        """The embedded hub is alive while this process is; others report heartbeats."""
        row = dict(row)
        if row["kind"] == "embedded":
            row["is_online"] = True
            row["last_seen_at"] = utcnow()
        last = row["last_seen_at"]
        row["is_stale"] = last is None or utcnow() - last > STALE_AFTER
        if row["is_stale"]:
            row["is_online"] = False
        return row

    async def list(self) -> list[dict[str, Any]]:
        counts = (
            select(printers.c.hub_id, func.count().label("n"))
            .group_by(printers.c.hub_id)
            .subquery()
        )
        query = (
            select(hubs, func.coalesce(counts.c.n, 0).label("printer_count"))
            .select_from(hubs.outerjoin(counts, counts.c.hub_id == hubs.c.id))
            .order_by(hubs.c.created_at, hubs.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [project(self._live(dict(r)), HUB_FIELDS) for r in rows]

    async def get(self, hub_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = self._live(await self._row(conn, hub_id))
            members = (
                (
                    await conn.execute(
                        select(printers.c.id, printers.c.name, printers.c.model, printers.c.status)
                        .where(printers.c.hub_id == hub_id)
                        .order_by(printers.c.name)
                    )
                )
                .mappings()
                .all()
            )
        row["printer_count"] = len(members)
        data = project(row, (*HUB_FIELDS, "is_stale"))
        data["printers"] = [dict(m) for m in members]
        return data

    async def connection(self, hub_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            return project(self._live(await self._row(conn, hub_id)), CONNECTION_FIELDS)

    async def discovered(self, hub_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await self._row(conn, hub_id)
        at = row["discovered_at"]
        return {
            "hub_id": hub_id,
            "discovered_at": int(at.timestamp() * 1000) if at else None,
            "printers": row["discovered_printers"] or [],
        }

    async def create_remote(self, name: str) -> dict[str, Any]:
        """A remote hub for ``apf hub``; its token is returned once, only its hash is kept."""
        from ..hub.protocol import new_token, token_hash

        token = new_token()
        now = utcnow()
        hub_id = new_id()
        row: dict[str, Any] = {
            "id": hub_id,
            "name": name,
            "kind": "remote",
            "is_online": False,
            "token_hash": token_hash(token),
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.begin() as conn:
            await conn.execute(insert(hubs).values(**row))
            data = await self.get_in(conn, hub_id)
            await self.farm.events.emit(conn, "hub.created", data)
        link = self.farm.extensions.get("hub_link")
        if link is not None:
            await link.ensure_started()
        return {**data, "token": token}

    async def get_in(self, conn: AsyncConnection, hub_id: str) -> dict[str, Any]:
        row = self._live(await self._row(conn, hub_id))
        row["printer_count"] = 0
        return project(row, (*HUB_FIELDS, "is_stale"))

    async def _row(self, conn: AsyncConnection, hub_id: str) -> dict[str, Any]:
        return await fetch_one(conn, hubs, hub_id, code="HUB_NOT_FOUND", label="Hub")
