"""Hubs: the embedded hub (drivers in this process) and remote LAN hubs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import Conflict
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

    async def _new_credentials(self, hub_id: str) -> tuple[str, dict[str, Any]]:
        """A fresh token and the columns that store it (hash, sealed link key)."""
        from ..hub.crypto import root_key
        from ..hub.protocol import new_token, token_hash
        from ..hub.vault import load_master_key, seal_secret

        token = new_token()
        master = await asyncio.to_thread(load_master_key, self.farm.settings.data_dir)
        sealed = seal_secret(master, root_key(token), hub_id)
        return token, {"token_hash": token_hash(token), "link_key": sealed}

    async def _relink(self) -> None:
        link = self.farm.hub_link
        if link is not None:
            await link.ensure_started()

    async def create_remote(self, name: str) -> dict[str, Any]:
        """A remote hub for ``apf hub``; its token is returned once and never stored in clear."""
        now = utcnow()
        hub_id = new_id()
        token, stored = await self._new_credentials(hub_id)
        row: dict[str, Any] = {
            "id": hub_id,
            "name": name,
            "kind": "remote",
            "is_online": False,
            **stored,
            "created_at": now,
            "updated_at": now,
        }
        async with self.db.begin() as conn:
            await conn.execute(insert(hubs).values(**row))
            data = await self.get_in(conn, hub_id)
            await self.farm.events.emit(conn, "hub.created", data)
        await self._relink()
        return {**data, "token": token}

    async def rotate_token(self, hub_id: str) -> dict[str, Any]:
        """A new token for a remote hub; the old one stops working at once."""
        token, stored = await self._new_credentials(hub_id)
        async with self.db.begin() as conn:
            row = await self._row(conn, hub_id)
            if row["kind"] == "embedded":
                raise Conflict("The embedded hub has no token", code="HUB_EMBEDDED")
            await conn.execute(
                update(hubs)
                .where(hubs.c.id == hub_id)
                .values(**stored, is_online=False, updated_at=utcnow())
            )
            data = await self.get_in(conn, hub_id)
            await self.farm.events.emit(conn, "hub.token_rotated", {"hub_id": hub_id})
        await self._relink()
        return {**data, "token": token}

    async def delete(self, hub_id: str) -> dict[str, Any]:
        """Delete a remote hub that no printer uses."""
        async with self.db.begin() as conn:
            row = await self._row(conn, hub_id)
            if row["kind"] == "embedded":
                raise Conflict("The embedded hub cannot be deleted", code="HUB_EMBEDDED")
            used = await conn.scalar(
                select(func.count()).select_from(printers).where(printers.c.hub_id == hub_id)
            )
            if used:
                raise Conflict(
                    f"{used} printer(s) still use this hub: move or delete them first",
                    code="HUB_IN_USE",
                    extra={"printer_count": int(used)},
                )
            await conn.execute(delete(hubs).where(hubs.c.id == hub_id))
            await self.farm.events.emit(conn, "hub.deleted", {"hub_id": hub_id})
        await self._relink()
        return {"id": hub_id, "deleted": True}

    async def get_in(self, conn: AsyncConnection, hub_id: str) -> dict[str, Any]:
        row = self._live(await self._row(conn, hub_id))
        row["printer_count"] = 0
        return project(row, (*HUB_FIELDS, "is_stale"))

    async def _row(self, conn: AsyncConnection, hub_id: str) -> dict[str, Any]:
        return await fetch_one(conn, hubs, hub_id, code="HUB_NOT_FOUND", label="Hub")
