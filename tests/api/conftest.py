"""Fixtures that run a real APF server and talk to it over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from apf_core.services.keys import KeyService
from apf_core.storage.db import Database
from apf_core.storage.tables.spine import api_keys
from apf_core.testing import RunningFarm, running_farm
from apf_core.timeutil import utcnow


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def data(self) -> Any:
        assert self.body["success"] is True, self.body
        return self.body["data"]

    @property
    def code(self) -> str:
        assert self.body["success"] is False, self.body
        return str(self.body["code"])


@dataclass
class Api:
    """A thin HTTP client for tests: ``await api.get("/printers", key=api.keys["read"])``."""

    server: RunningFarm
    session: aiohttp.ClientSession
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def farm(self) -> Any:
        return self.server.farm

    async def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = "all",
        json: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> Reply:
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        async with self.session.request(
            method, self.server.api + path, json=json, data=data, headers=hdrs, params=params
        ) as resp:
            raw = await resp.read()
            ctype = resp.headers.get("Content-Type", "")
            body: Any = raw
            if ctype.startswith("application/json"):
                import json as jsonlib

                body = jsonlib.loads(raw)
            return Reply(resp.status, body, resp.headers)

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Reply:
        return await self.request("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> Reply:
        return await self.request("PATCH", path, **kw)

    async def put(self, path: str, **kw: Any) -> Reply:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.request("DELETE", path, **kw)


async def mint_keys(db: Database) -> dict[str, str]:
    """Keys for the scope matrix plus revoked and expired ones."""
    service = KeyService(db)
    keys: dict[str, str] = {}
    for name, scopes in {
        "all": ["read", "write", "control"],
        "read": ["read"],
        "write": ["write"],
        "control": ["control"],
        "read_write": ["read", "write"],
    }.items():
        keys[name], _ = await service.create(name, scopes)
    keys["revoked"], record = await service.create("revoked", ["read", "write", "control"])
    await service.revoke(record["id"])
    keys["expired"], record = await service.create("expired", ["read", "write", "control"])
    async with db.begin() as conn:
        await conn.execute(
            update(api_keys)
            .where(api_keys.c.id == record["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    keys["invalid"] = "apf_live_" + "0" * 64
    keys["malformed"] = "not-a-key"
    return keys


@pytest.fixture
def farm_options() -> dict[str, Any]:
    """Override in a test module to change Settings (e.g. rate limits)."""
    return {}


@pytest.fixture(autouse=True)
def _manual_dispatch(monkeypatch: pytest.MonkeyPatch, farm_options: dict[str, Any]) -> None:
    """API tests start jobs themselves; the dispatcher joins only when a module asks for it."""
    if not farm_options.pop("auto_dispatch", False):
        monkeypatch.setenv("APF_AUTO_DISPATCH", "0")


@pytest.fixture
async def api(
    tmp_path: Path, database: Database, farm_options: dict[str, Any], demo_templates: Any
) -> AsyncIterator[Api]:
    """A running server with the demo farm and a set of keys."""
    demo = farm_options.pop("demo", True)
    if demo:  # a copy of the demo farm seeded once per session (same rows as seeding anew)
        await demo_templates.restore(database, tmp_path / "data")
    async with running_farm(tmp_path / "data", demo=demo, db=database, **farm_options) as server:
        async with aiohttp.ClientSession() as session:
            client = Api(server, session)
            client.keys = await mint_keys(server.farm.db)
            yield client


@pytest.fixture
async def empty_api(tmp_path: Path, database: Database) -> AsyncIterator[Api]:
    """A running server with no demo data."""
    async with running_farm(tmp_path / "data", demo=False, db=database) as server:
        async with aiohttp.ClientSession() as session:
            client = Api(server, session)
            client.keys = await mint_keys(server.farm.db)
            yield client
