"""Kill the server between events and their delivery; nothing is lost after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

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
        self.data: list[dict[str, Any]] = []
        self.first_welcome: int | None = None

    async def run(self, session: aiohttp.ClientSession, api: str) -> None:
        params = {"types": "job.*"}
        if self.ids:
            params["last_event_id"] = str(self.ids[-1])
        elif self.first_welcome is not None:
            params["last_event_id"] = str(self.first_welcome)
        async with session.ws_connect(
            api + "/events/ws", params=params, headers={"Authorization": f"Bearer {self.key}"}
        ) as ws:
            async for msg in ws:
                frame = msg.json()
                if frame["kind"] == "welcome" and self.first_welcome is None:
                    self.first_welcome = frame["last_event_id"]
                if frame["kind"] == "event":
                    self.ids.append(frame["id"])
                    self.types.append(frame["type"])
                    self.data.append(frame["data"])


async def job_event_ids(db: Database, after: int = 0, upto: int | None = None) -> list[int]:
    query = select(events.c.id).where(events.c.type.like("job.%"), events.c.id > after)
    if upto is not None:
        query = query.where(events.c.id <= upto)
    async with db.read() as conn:
        return [int(r.id) for r in await conn.execute(query.order_by(events.c.id))]


async def produce(client: Client, file_id: str, count: int) -> list[str]:
    made = []
    for _ in range(count):
        job = await client.call("POST", "/jobs", {"print_file_id": file_id})
        await client.call("POST", f"/jobs/{job['id']}/complete", {})
        made.append(job["id"])
    return made


async def delivery_rows(db: Database, hook_id: str, upto: int) -> list[Any]:
    async with db.read() as conn:
        return list(
            await conn.execute(
                select(webhook_deliveries.c.event_id, webhook_deliveries.c.status)
                .where(
                    webhook_deliveries.c.webhook_id == hook_id,
                    webhook_deliveries.c.event_id <= upto,
                )
                .order_by(webhook_deliveries.c.event_id)
            )
        )


async def test_kill_and_restart_mid_stream(
    tmp_path: Path, database: Database, receiver: Receiver
) -> None:
    """Other job events may happen meanwhile (the dispatcher, telemetry): the checks compare
    with the outbox, so every job.* event id after the webhook (and the consumer) started must
    arrive, whoever caused it."""
    data = tmp_path / "data"
    async with aiohttp.ClientSession() as session:
        # --- first life: events flow, the receiver is down, the server is killed ---
        async with running_farm(data, demo=True, db=database) as server:
            key, _ = await KeyService(server.farm.db).create("events-test", ["read", "write"])
            client = Client(server, session, key)
            for printer in await client.call("GET", "/printers"):  # keep the queue still
                await client.call("PATCH", f"/printers/{printer['id']}", {"auto_dispatch": False})
            consumer = Consumer(key)
            consumer_task = asyncio.create_task(consumer.run(session, server.api))
            hook = await client.call(
                "POST", "/webhooks", {"url": receiver.url, "events": ["job.*"]}
            )
            async with server.farm.db.read() as conn:
                file_id = (await conn.execute(select(print_files.c.id).limit(1))).scalar_one()
            receiver.script = [200, 200]  # two delivered, then the receiver "fails"
            receiver.default_status = 500
            ours = await produce(client, file_id, 3)
            await receiver.wait_for(lambda r: len(r.attempts) >= 4)
            # one more, killed before its delivery could succeed
            ours += await produce(client, file_id, 1)
        await asyncio.wait_for(consumer_task, 5)  # the stream ended with the server
        assert len(receiver.unique_ids()) == 2  # the rest was not delivered yet
        # --- second life: the same data, the receiver is back ---
        receiver.default_status = 200
        async with running_farm(data, demo=False, db=database) as server:
            client = Client(server, session, key)
            consumer_task = asyncio.create_task(consumer.run(session, server.api))
            ours += await produce(client, file_id, 2)
            mark = (await job_event_ids(database))[-1]  # the last job.completed of ours
            first_row = (await delivery_rows(database, hook["id"], mark))[0].event_id
            hook_ids = await job_event_ids(database, after=first_row - 1, upto=mark)
            await receiver.wait_for(lambda r: r.unique_ids() >= set(hook_ids), timeout=15)
            async with asyncio.timeout(10):
                while not consumer.ids or consumer.ids[-1] < mark:
                    await asyncio.sleep(0.05)
            async with asyncio.timeout(5):  # the receiver records before the server does
                while True:
                    rows = await delivery_rows(database, hook["id"], mark)
                    if all(r.status == "delivered" for r in rows):
                        break
                    await asyncio.sleep(0.05)
        consumer_task.cancel()
    # every event of our six jobs is among them (created, completed)
    ours_events = {
        i for i, d in zip(consumer.ids, consumer.data, strict=True) if d.get("id") in ours
    }
    assert len(ours_events) == 12
    assert ours_events <= set(hook_ids)
    # the receiver's de-duplicated view has every event id since the webhook was created
    assert {i for i in receiver.unique_ids() if i <= mark} == set(hook_ids)
    assert receiver.valid(hook["secret"])
    # the deliveries table records each of them exactly once, delivered
    assert [r.event_id for r in rows] == hook_ids
    assert {r.status for r in rows} == {"delivered"}
    # the WebSocket consumer saw every job.* id once, in order, across the restart
    assert consumer.first_welcome is not None
    seen = [i for i in consumer.ids if i <= mark]
    assert seen == await job_event_ids(database, after=consumer.first_welcome, upto=mark)


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
