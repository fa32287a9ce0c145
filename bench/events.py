"""Events per second through the outbox to many WebSocket clients, with end-to-end latency.

Starts a real APF server (SQLite in a temporary directory, or ``--database-url``),
connects ``--clients`` WebSocket clients to ``/public/v1/events/ws`` and produces
events for ``--seconds``:

* ``--source synthetic`` (default): ``--writers`` tasks emit events in their own
  transactions (``--batch`` events per transaction), as a service would.
* ``--source simulator``: ``--printers`` simulated printers print; the events are
  the real ones (job.*, printer.status, job.progress, ...).

Latency is measured from the event's creation (the time stored with it) to its
arrival at each client. The clients run in a separate process (``--same-process``
puts them beside the server). A benchmark, not a test:

    /work/venv/bin/python bench/events.py [--clients 100] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apf_core.services.keys import KeyService
from apf_core.testing import RunningFarm, running_farm


class Client:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.received = 0
        self.error: str | None = None

    async def run(self, session: aiohttp.ClientSession, url: str, key: str, types: str) -> None:
        async with session.ws_connect(
            url,
            params={"types": types},
            headers={"Authorization": f"Bearer {key}"},
            max_msg_size=0,
        ) as ws:
            async for msg in ws:
                now = time.time()
                frame = orjson.loads(msg.data)
                if frame["kind"] == "event":
                    self.received += 1
                    created = datetime.fromisoformat(frame["time"].replace("Z", "+00:00"))
                    self.latencies.append(now - created.timestamp())
                elif frame["kind"] == "error":
                    self.error = frame["code"]


async def synthetic(
    server: RunningFarm, seconds: float, writers: int, batch: int, rate: float
) -> int:
    """``writers`` tasks emit ``batch`` events per transaction, paced to ``rate`` events/s
    in total (0: as fast as they can)."""
    farm = server.farm
    start = time.monotonic()
    stop = start + seconds
    counts = [0] * writers
    interval = writers * batch / rate if rate > 0 else 0.0

    async def writer(n: int) -> None:
        seq = 0
        due = start + n * interval / writers
        while time.monotonic() < stop:
            if interval:
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                due += interval
            async with farm.db.begin() as conn:
                for _ in range(batch):
                    seq += 1
                    await farm.events.emit(
                        conn, "bench.tick", {"writer": n, "seq": seq, "printer_id": f"p{n}"}
                    )
            counts[n] += batch

    await asyncio.gather(*(writer(n) for n in range(writers)))
    return sum(counts)


async def simulator(server: RunningFarm, seconds: float, printers: int, key: str) -> int:
    """Simulated printers print short jobs back to back."""
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:

        async def call(method: str, path: str, body: Any = None) -> Any:
            async with http.request(method, server.api + path, json=body) as resp:
                payload = await resp.json()
                if not payload.get("success"):
                    raise RuntimeError(f"{method} {path}: {payload}")
                return payload["data"]

        from sqlalchemy import select

        from apf_core.storage.tables.spine import print_files

        async with server.farm.db.read() as conn:
            file_id = (await conn.execute(select(print_files.c.id).limit(1))).scalar_one()
        ids = []
        for n in range(printers):
            printer = await call(
                "POST",
                "/printers",
                {
                    "name": f"Bench {n}",
                    "protocol": "simulated",
                    "model": "Sim",
                    "connection": {"speed": 300, "print_seconds": 600, "tick": 0.2},
                },
            )
            ids.append(printer["id"])
        reload = server.farm.reload_printers
        if reload is not None:
            await reload()
        stop = time.monotonic() + seconds

        async def keep_printing(printer_id: str) -> None:
            while time.monotonic() < stop:
                job = await call(
                    "POST", "/jobs", {"print_file_id": file_id, "printer_id": printer_id}
                )
                try:
                    await call("POST", f"/jobs/{job['id']}/start")
                except RuntimeError:
                    await asyncio.sleep(0.5)
                    continue
                while time.monotonic() < stop:
                    state = await call("GET", f"/jobs/{job['id']}")
                    if state["status"] in ("completed", "failed", "cancelled"):
                        break
                    await asyncio.sleep(0.5)
                with contextlib.suppress(RuntimeError):
                    await call("POST", f"/printers/{printer_id}/control", {"action": "clear_bed"})

        await asyncio.gather(*(keep_printing(p) for p in ids))
        return 0  # counted by the caller from the outbox


async def _max_id(server: RunningFarm) -> int:
    from apf_core.events.store import max_event_id

    async with server.farm.db.read() as conn:
        return await max_event_id(conn)


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_clients(
    url: str, key: str, count: int, types: str, stop: asyncio.Event
) -> list[Client]:
    clients = [Client() for _ in range(count)]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        tasks = [asyncio.create_task(c.run(session, url, key, types)) for c in clients]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return clients


async def client_worker(url: str, key: str, count: int, types: str) -> None:
    """Child process: run the clients until stdin says "stop", then print the results."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def wait_stop() -> None:
        await reader.readline()
        stop.set()

    waiter = asyncio.create_task(wait_stop())
    clients = await run_clients(url, key, count, types, stop)
    await waiter
    result = {
        "received": [c.received for c in clients],
        "errors": [c.error for c in clients],
        "latencies": [round(v, 6) for c in clients for v in c.latencies],
    }
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> None:
    types = "bench.*" if args.source == "synthetic" else "*"
    # every client uses the one bench key: allow that many streams on it
    os.environ.setdefault("APF_EVENT_WS_MAX_PER_KEY", str(args.clients + 10))
    with tempfile.TemporaryDirectory() as tmp:
        async with running_farm(
            Path(tmp) / "data", demo=args.source == "simulator", database_url=args.database_url
        ) as server:
            key, _ = await KeyService(server.farm.db).create("bench", ["read", "write", "control"])
            url = server.api + "/events/ws"
            stop = asyncio.Event()
            child = None
            local: asyncio.Task[list[Client]] | None = None
            if args.same_process:
                local = asyncio.create_task(run_clients(url, key, args.clients, types, stop))
            else:
                child = await asyncio.create_subprocess_exec(
                    sys.executable,
                    __file__,
                    "--client-worker",
                    url,
                    key,
                    str(args.clients),
                    types,
                    stdin=asyncio.subprocess.PIPE,
                    limit=1 << 30,
                    stdout=asyncio.subprocess.PIPE,
                )
            hub = server.farm.event_hub
            async with asyncio.timeout(60):
                while len(hub.clients) < args.clients:
                    await asyncio.sleep(0.05)
            first_id = await _max_id(server)
            started = time.monotonic()
            if args.source == "synthetic":
                emitted = await synthetic(server, args.seconds, args.writers, args.batch, args.rate)
            else:
                await simulator(server, args.seconds, args.printers, key)
                emitted = await _max_id(server) - first_id
            produce_seconds = time.monotonic() - started
            await asyncio.sleep(args.drain)  # let the clients catch up
            # the simulated printers keep reporting while the clients drain: count it all
            total_events = await _max_id(server) - first_id
            if local is not None:
                stop.set()
                clients = await local
                received = [c.received for c in clients]
                errors = [c.error for c in clients]
                latencies = [v for c in clients for v in c.latencies]
            else:
                assert child is not None
                assert child.stdin is not None
                assert child.stdout is not None
                child.stdin.write(b"stop\n")
                await child.stdin.drain()
                line = await child.stdout.readline()
                await child.wait()
                result = orjson.loads(line)
                received, errors, latencies = (
                    result["received"],
                    result["errors"],
                    result["latencies"],
                )
    delivered = sum(received)
    dropped = sum(1 for e in errors if e)
    mode = "same process" if args.same_process else "separate process"
    print(
        f"source          {args.source}"
        + (
            f" ({args.writers} writers, batch {args.batch}, rate {args.rate or 'max'})"
            if args.source == "synthetic"
            else f" ({args.printers} printers)"
        )
    )
    print(f"clients         {args.clients} in a {mode} (dropped as too slow: {dropped})")
    print(
        f"events          {emitted} in {produce_seconds:.2f} s = "
        f"{emitted / produce_seconds:,.0f} events/s through the outbox   goal >= 2,000 events/s"
    )
    print(
        f"frames received {delivered:,} = {delivered / max(1, total_events * args.clients):.1%} "
        f"of events x clients ({delivered / produce_seconds:,.0f} frames/s)"
    )
    print(
        f"latency         p50 {_ms(latencies, 0.5):.1f} ms, p99 {_ms(latencies, 0.99):.1f} ms, "
        f"max {max(latencies, default=0) * 1000:.1f} ms"
        f" (mean {statistics.fmean(latencies) * 1000 if latencies else 0:.1f} ms)   goal p99 < 100 ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--source", choices=("synthetic", "simulator"), default="synthetic")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s in total (0: max)")
    parser.add_argument("--printers", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--drain", type=float, default=2.0, help="seconds to wait after producing")
    parser.add_argument("--same-process", action="store_true")
    if len(sys.argv) > 1 and sys.argv[1] == "--client-worker":
        _, _, url, key, count, types = sys.argv
        asyncio.run(client_worker(url, key, int(count), types))
    else:
        asyncio.run(main(parser.parse_args()))
