"""Kill the server between events and their delivery; nothing is lost after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

from apf_core.events.signatures import verify
from apf_core.services.keys import KeyService
from apf_core.storage.db import Database
from apf_core.storage.tables.spine import events, print_files
from apf_core.storage.tables.webhooks import webhook_deliveries
from apf_core.testing import RunningFarm, running_farm

from .conftest import Receiver


class Client:
    def __init__(self, server: RunningFarm, session: aiohttp.ClientSession, key: str) -> None:
        self.server = server
        self.session = session
        self.headers = {"Authorization": f"Bearer {key}"}

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(
            method, self.server.api + path, json=body, headers=self.headers
        ) as resp:
            payload = await resp.json()
            assert payload["success"], payload
            return payload["data"]


class Consumer:
    """An independent WebSocket consumer that reconnects with its last id."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.ids: list[int] = []
        self.types: list[str] = []

    async def run(self, session: aiohttp.ClientSession, api: str) -> None:
        params = {"types": "job.*"}
        if self.ids:
            params["last_event_id"] = str(self.ids[-1])
        async with session.ws_connect(
            api + "/events/ws", params=params, headers={"Authorization": f"Bearer {self.key}"}
        ) as ws:
            async for msg in ws:
                frame = msg.json()
                if frame["kind"] == "event":
                    self.ids.append(frame["id"])
                    self.types.append(frame["type"])


async def job_event_ids(db: Database) -> list[int]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(events.c.id).where(events.c.type.like("job.%")).order_by(events.c.id)
        )
        return [int(r.id) for r in rows]


async def produce(client: Client, file_id: str, count: int) -> None:
    for _ in range(count):
        job = await client.call("POST", "/jobs", {"print_file_id": file_id})
        await client.call("POST", f"/jobs/{job['id']}/complete", {})


async def test_kill_and_restart_mid_stream(
    tmp_path: Path, database: Database, receiver: Receiver
) -> None:
    data = tmp_path / "data"
    consumer_task: asyncio.Task[None] | None = None
    async with aiohttp.ClientSession() as session:
        # --- first life: events flow, the receiver is down, the server is killed ---
        async with running_farm(data, demo=True, db=database) as server:
            key, _ = await KeyService(server.farm.db).create("events-test", ["read", "write"])
            client = Client(server, session, key)
            consumer = Consumer(key)
            consumer_task = asyncio.create_task(consumer.run(session, server.api))
            hook = await client.call(
                "POST", "/webhooks", {"url": receiver.url, "events": ["job.*"]}
            )
            async with server.farm.db.read() as conn:
                file_id = (await conn.execute(select(print_files.c.id).limit(1))).scalar_one()
            receiver.script = [200, 200]  # two delivered, then the receiver "fails"
            receiver.default_status = 500
            await produce(client, file_id, 3)
            await receiver.wait_for(lambda r: len(r.attempts) >= 4)
            # one more event, killed before its delivery could succeed
            await produce(client, file_id, 1)
        await asyncio.wait_for(consumer_task, 5)  # the stream ended with the server
        before = await job_event_ids(database)
        assert len(before) == 8
        assert receiver.unique_ids() < set(before)  # some were not delivered yet
        # --- second life: the same data, the receiver is back; it is slow on the first POST ---
        receiver.default_status = 200
        async with running_farm(data, demo=False, db=database) as server:
            client = Client(server, session, key)
            consumer_task = asyncio.create_task(consumer.run(session, server.api))
            await produce(client, file_id, 2)
            expected = await job_event_ids(database)
            assert len(expected) == 12
            await receiver.wait_for(lambda r: r.unique_ids() >= set(expected), timeout=15)
            async with asyncio.timeout(10):
                while not consumer.ids or consumer.ids[-1] != expected[-1]:
                    await asyncio.sleep(0.05)
            async with asyncio.timeout(5):  # the receiver records before the server does
                while True:
                    async with server.farm.db.read() as conn:
                        rows = (
                            await conn.execute(
                                select(webhook_deliveries.c.event_id, webhook_deliveries.c.status)
                                .where(webhook_deliveries.c.webhook_id == hook["id"])
                                .order_by(webhook_deliveries.c.event_id)
                            )
                        ).all()
                        total = await conn.scalar(
                            select(func.count()).select_from(webhook_deliveries)
                        )
                    if all(r.status == "delivered" for r in rows):
                        break
                    await asyncio.sleep(0.05)
    # the receiver's de-duplicated view has every event id; each signature is valid
    assert sorted(receiver.unique_ids()) == expected
    assert receiver.valid(hook["secret"])
    # the deliveries table records each event exactly once, delivered
    assert [r.event_id for r in rows] == expected
    assert total == len(expected)
    assert {r.status for r in rows} == {"delivered"}
    # the WebSocket consumer saw every id once, in order, across the restart
    assert consumer.ids == expected
    assert consumer.types.count("job.completed") == 6


async def test_in_flight_delivery_is_repeated_after_a_restart(
    tmp_path: Path, database: Database, receiver: Receiver
) -> None:
    """Stopped while a POST is in flight: the receiver sees that id twice, de-duplicates it,
    and the deliveries table still has one row for it."""
    data = tmp_path / "data"
    async with aiohttp.ClientSession() as session:
        async with running_farm(data, demo=True, db=database) as server:
            key, _ = await KeyService(server.farm.db).create("events-test", ["read", "write"])
            client = Client(server, session, key)
            hook = await client.call(
                "POST", "/webhooks", {"url": receiver.url, "events": ["order.*"]}
            )
            receiver.gate = asyncio.Event()  # the answer never comes before the stop
            async with server.farm.db.begin() as conn:
                await server.farm.events.emit(conn, "order.created", {"id": "o-1"})
            await receiver.wait_for(lambda r: len(r.received) == 1)
        receiver.gate.set()
        first = int(receiver.received[0].event_id)
        async with running_farm(data, demo=False, db=database) as server:
            await receiver.wait_for(lambda r: len(r.received) == 2)
            async with asyncio.timeout(5):
                while True:
                    async with server.farm.db.read() as conn:
                        rows = (
                            await conn.execute(
                                select(webhook_deliveries).where(
                                    webhook_deliveries.c.event_id == first
                                )
                            )
                        ).mappings().all()
                    if rows and rows[0]["status"] != "pending":
                        break
                    await asyncio.sleep(0.05)
    assert receiver.ids() == [first, first]
    assert receiver.unique_ids() == {first}
    assert len(rows) == 1
    assert rows[0]["status"] == "delivered"
    assert all(verify(hook["secret"], r.body, r.signature) for r in receiver.received)
