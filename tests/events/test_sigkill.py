"""A real server process is killed (SIGKILL) mid-stream and started again on the same data.

An independent WebSocket consumer and a webhook receiver run throughout; afterwards the
outbox is compared with what they saw: no job event id may be missing or doubled in the
consumer's stream or the receiver's de-duplicated view.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from apf_core.storage.db import Database, sqlite_url
from apf_core.storage.tables.spine import events, print_files
from apf_core.storage.tables.webhooks import webhook_deliveries

from .conftest import FAST_ENV, Receiver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}/public/v1"
        self.proc: asyncio.subprocess.Process | None = None
        self.env = {**os.environ, **FAST_ENV, "APF_DATABASE_URL": ""}
        self.env.pop("APF_DATABASE_URL")

    async def cli(self, *args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "apf_core.cli", *args, "--data-dir", str(self.data_dir),
            env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return out.decode()

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "apf_core.cli", "serve", "--data-dir", str(self.data_dir),
            "--port", str(self.port), "--demo", "--no-zeroconf",
            env=self.env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.url + "/health") as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


class Consumer:
    """Reconnects forever with the last id it saw."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.ids: list[int] = []
        self.first_welcome: int | None = None

    async def run(self, session: aiohttp.ClientSession) -> None:
        while True:
            params = {"types": "job.*"}
            last = self.ids[-1] if self.ids else self.first_welcome
            if last is not None:
                params["last_event_id"] = str(last)
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.ws_connect(
                    self.url + "/events/ws", params=params,
                    headers={"Authorization": f"Bearer {self.key}"},
                ) as ws:
                    async for msg in ws:
                        frame = msg.json()
                        if frame["kind"] == "welcome" and self.first_welcome is None:
                            self.first_welcome = frame["last_event_id"]
                        elif frame["kind"] == "event":
                            self.ids.append(frame["id"])
            await asyncio.sleep(0.1)


async def produce(
    session: aiohttp.ClientSession, url: str, key: str, file_id: str, stop: asyncio.Event
) -> int:
    """Jobs created and completed back to back; errors while the server is down are fine."""
    headers = {"Authorization": f"Bearer {key}"}
    done = 0
    while not stop.is_set():
        try:
            async with session.post(
                url + "/jobs", json={"print_file_id": file_id}, headers=headers
            ) as resp:
                job = (await resp.json())["data"]
            async with session.post(
                url + f"/jobs/{job['id']}/complete", json={}, headers=headers
            ) as resp:
                await resp.read()
            done += 1
        except (aiohttp.ClientError, OSError, KeyError, TypeError):
            await asyncio.sleep(0.1)
    return done


async def outbox(db: Database, after: int) -> list[int]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(events.c.id).where(events.c.type.like("job.%"), events.c.id > after)
            .order_by(events.c.id)
        )
        return [int(r.id) for r in rows]


async def test_sigkill_mid_stream(tmp_path: Path, receiver: Receiver) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, free_port())
    db = Database(sqlite_url(data / "apf.db"))
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with aiohttp.ClientSession() as session:
            await server.start(session)
            key = (await server.cli("keys", "create", "--name", "t",
                                    "--scopes", "read,write,control")).strip().splitlines()[-1]
            headers = {"Authorization": f"Bearer {key}"}
            async with session.post(
                server.url + "/webhooks", json={"url": receiver.url, "events": ["job.*"]},
                headers=headers,
            ) as resp:
                hook = (await resp.json())["data"]
            async with db.read() as conn:
                file_id = (await conn.execute(select(print_files.c.id).limit(1))).scalar_one()
            consumer = Consumer(server.url, key)
            tasks.append(asyncio.create_task(consumer.run(session)))
            stop = asyncio.Event()
            producer = asyncio.create_task(produce(session, server.url, key, file_id, stop))
            tasks.append(producer)
            receiver.delay = 0.05  # deliveries lag behind, so some are pending at the kill
            await receiver.wait_for(lambda r: len(r.received) >= 4, timeout=20)
            await server.kill()
            await asyncio.sleep(0.5)
            await server.start(session)
            count_after_restart = len(receiver.received)
            await receiver.wait_for(lambda r: len(r.received) >= count_after_restart + 4,
                                    timeout=20)
            stop.set()
            produced = await producer
            assert produced >= 4
            expected_stream = await outbox(db, consumer.first_welcome or 0)
            last = expected_stream[-1]
            async with asyncio.timeout(20):
                while not consumer.ids or consumer.ids[-1] < last:
                    await asyncio.sleep(0.05)
            async with db.read() as conn:
                first_row = await conn.scalar(
                    select(webhook_deliveries.c.event_id)
                    .where(webhook_deliveries.c.webhook_id == hook["id"])
                    .order_by(webhook_deliveries.c.event_id).limit(1)
                )
            expected_hook = [i for i in await outbox(db, first_row - 1) if i <= last]
            await receiver.wait_for(lambda r: r.unique_ids() >= set(expected_hook), timeout=20)
            async with asyncio.timeout(10):
                while True:
                    async with db.read() as conn:
                        rows = (
                            await conn.execute(
                                select(webhook_deliveries.c.event_id, webhook_deliveries.c.status)
                                .where(webhook_deliveries.c.webhook_id == hook["id"],
                                       webhook_deliveries.c.event_id <= last)
                                .order_by(webhook_deliveries.c.event_id)
                            )
                        ).all()
                    if all(r.status == "delivered" for r in rows):
                        break
                    await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()
        await db.dispose()
    assert [i for i in consumer.ids if i <= last] == expected_stream
    assert {i for i in receiver.unique_ids() if i <= last} == set(expected_hook)
    assert [r.event_id for r in rows] == expected_hook
    assert receiver.valid(hook["secret"])
