"""Leadership between two farms on one PostgreSQL schema, in one test process.

One farm leads (drivers, dispatcher), the other follows: it shows the leader's printer
state, relays printer commands to the leader, and takes over when the leader stops or
loses its lock connection. (tests/runtime/test_several_processes.py does the same with
real processes and SIGKILL.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from apf_core.storage.db import Database
from apf_core.testing import RunningFarm, running_farm

PG_URL = os.environ.get("APF_TEST_DATABASE_URL")
pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set APF_TEST_DATABASE_URL"),
    pytest.mark.timeout(90),
]
PRINTER = {"speed": 600, "print_seconds": 900, "tick": 0.05, "has_light": True}


@contextlib.asynccontextmanager
async def scratch_schema() -> AsyncIterator[str]:
    import asyncpg

    assert PG_URL is not None
    schema = f"lead_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def eventually(what: str, check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return result


class Api:
    def __init__(self, session: aiohttp.ClientSession, farm: RunningFarm) -> None:
        self.session = session
        self.farm = farm

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.farm.api_key}"}
        async with self.session.request(
            method, self.farm.api + path, headers=headers, **kwargs
        ) as resp:
            return resp.status, await resp.json()

    async def role(self) -> str:
        return str((await self.call("GET", "/health"))[1]["data"]["role"])


@pytest.fixture
async def two_farms(tmp_path: Path) -> AsyncIterator[tuple[Api, Api]]:
    assert PG_URL is not None
    async with contextlib.AsyncExitStack() as stack:
        schema = await stack.enter_async_context(scratch_schema())
        session = await stack.enter_async_context(aiohttp.ClientSession())
        farms = []
        for name in ("a", "b"):
            farm = await stack.enter_async_context(
                running_farm(
                    tmp_path / name,
                    demo=False,
                    db=Database(PG_URL, schema=schema),
                    zeroconf=False,
                )
            )
            farms.append(Api(session, farm))
        yield farms[0], farms[1]


async def test_follower_mirrors_relays_and_takes_over(two_farms: tuple[Api, Api]) -> None:
    leader, follower = two_farms
    assert (await leader.role(), await follower.role()) == ("leader", "follower")
    assert follower.farm.farm.drivers is None and follower.farm.farm.dispatcher is None
    status, body = await follower.call(
        "POST",
        "/printers",
        json={"name": "Sim", "protocol": "simulated", "model": "MK4", "connection": PRINTER},
    )
    assert status == 201, body
    printer = body["data"]["id"]

    async def view(api: Api) -> dict[str, Any]:
        return dict((await api.call("GET", f"/printers/{printer}/status"))[1]["data"])

    async def online_on_follower() -> bool:  # the leader's driver, seen through events
        return bool((await view(follower))["hub_online"])

    await eventually("the follower to show the printer online", online_on_follower)
    # a command sent to the follower is run by the leader's driver
    status, body = await follower.call("POST", f"/printers/{printer}/light", json={"state": True})
    assert status == 200, body
    assert leader.farm.farm.drivers is not None
    driver: Any = leader.farm.farm.drivers.driver(printer)
    assert driver.state.light_on is True

    async def light_on_follower() -> bool:
        return (await view(follower))["light_on"] is True

    await eventually("the follower to show the light on", light_on_follower)
    # refused commands come back as the leader's error
    status, body = await follower.call(
        "POST", f"/printers/{printer}/temperature", json={"heater": "chamber", "target": 40}
    )
    assert (status, body["code"]) == (400, "CAPABILITY_NOT_SUPPORTED"), body

    # the leader loses its lock connection: it stops leading at once, the other takes over
    leadership = leader.farm.farm.leadership
    assert leadership is not None
    import asyncpg

    admin = await asyncpg.connect(str(PG_URL).replace("postgresql+asyncpg://", "postgresql://"))
    try:
        holder = await _lock_holder(admin, leader)
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", holder)
    finally:
        await admin.close()

    async def leader_stepped_down() -> bool:
        return not leadership.is_leader and leader.farm.farm.drivers is None

    await eventually("the old leader to stop its drivers", leader_stepped_down, timeout=3)

    async def follower_leads() -> bool:
        return await follower.role() == "leader"

    await eventually("the follower to take over", follower_leads, timeout=10)
    assert follower.farm.farm.drivers is not None and follower.farm.farm.dispatcher is not None
    assert await leader.role() == "follower"

    async def online_everywhere() -> bool:
        listening = leadership.listening  # the old leader hears NOTIFYs again
        return listening and all([(await view(api))["hub_online"] for api in (follower, leader)])

    await eventually("the new leader to reconnect the printer", online_everywhere)
    status, body = await leader.call("POST", f"/printers/{printer}/light", json={"state": False})
    assert status == 200, body  # relayed the other way now
    new_driver: Any = follower.farm.farm.drivers.driver(printer)
    assert new_driver.state.light_on is False


async def _lock_holder(admin: Any, api: Api) -> int:
    key = api.farm.farm.db.farm_key
    rows = await admin.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND ((classid::bigint << 32) | objid::bigint) = $1::bigint",
        key,
    )
    assert len(rows) == 1, rows
    return int(rows[0]["pid"])
