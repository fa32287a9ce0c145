"""Helpers to run a real APF server inside tests (used by apf_core and HA tests)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .config import Settings
from .farm import Farm
from .server import serve
from .services.keys import SCOPES, KeyService
from .storage.db import Database


@dataclass(slots=True)
class RunningFarm:
    url: str
    api_key: str
    farm: Farm
    app: web.Application

    @property
    def api(self) -> str:
        return f"{self.url}/public/v1"


@contextlib.asynccontextmanager
async def running_farm(
    data_dir: Path,
    *,
    demo: bool = True,
    scopes: Sequence[str] = SCOPES,
    database_url: str | None = None,
    db: Database | None = None,
    **settings: object,
) -> AsyncIterator[RunningFarm]:
    """Start a full server on a free loopback port; yields its URL and an API key."""
    from .demo import seed_demo

    config = Settings(data_dir=data_dir, database_url=database_url, port=0, **settings)  # type: ignore[arg-type]
    farm = Farm(config, db=db)
    async with serve(config, farm=farm) as server:
        if demo and await seed_demo(farm):
            reload = farm.reload_printers
            if reload is not None:
                await reload()
        key, _ = await KeyService(farm.db).create("test", list(scopes))
        yield RunningFarm(url=server.url, api_key=key, farm=farm, app=server.runner.app)
