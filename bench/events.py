"""Events per second through the outbox to many WebSocket clients, with end-to-end latency.

Starts a real APF server (SQLite in a temporary directory, or ``--database-url``),
connects ``--clients`` WebSocket clients to ``/public/v1/events/ws`` and produces
events for ``--seconds``:

* ``--source synthetic`` (default): ``--writers`` tasks emit events in their own
  transactions (``--batch`` events per transaction), as a service would.
* ``--source simulator``: ``--printers`` simulated printers print; the events are
  the real ones (job.*, printer.status, job.progress, ...).

The load generator must be faster than the server, so the default clients
(``--client fast``) speak WebSocket over a raw asyncio Protocol: the handshake by
hand (``Authorization`` header), then the server's frames parsed in bulk from each
read (header and length; server frames are never masked). Of each event frame they
read only the id (every client checks its ids arrive ascending with no gap and no
repeat) and the time. ``--client aiohttp`` uses aiohttp's client instead, which
JSON-parses every frame and is slower than the server. The clients run in
``--client-processes`` separate processes (``--same-process`` puts them beside the
server).

Latency is measured for every event frame, from the event's creation (the time
stored with it) to the arrival of the socket read that holds it, in 0.1 ms buckets.
Printed: events/s and p99 next to the goal (issue 14: >= 2,000 events/s, p99 < 100
ms), and the CPU share of the server and client processes while producing. A
benchmark, not a test:

    .venv/bin/python bench/events.py [--clients 100] [--seconds 5] [--client-processes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import cpu_seconds  # bench/api.py
from ws_clients import BUCKET_SECONDS, Tally, run_clients, tally_report  # bench/ is on sys.path

from apf_core.services.keys import KeyService
from apf_core.testing import RunningFarm, running_farm


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


async def client_worker(url: str, key: str, count: int, types: str, mode: str) -> None:
    """Child process: run the clients until stdin says "stop", then print the results."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def wait_stop() -> None:
        await reader.readline()
        stop.set()

    waiter = asyncio.create_task(wait_stop())
    tallies = await run_clients(url, key, count, types, mode, stop)
    await waiter
    sys.stdout.write(orjson.dumps(tally_report(tallies), option=orjson.OPT_NON_STR_KEYS).decode())
    sys.stdout.write("\n")
    sys.stdout.flush()


def _merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    histogram: dict[int, int] = {}
    for report in reports:
        for bucket, count in report["histogram"].items():
            histogram[int(bucket)] = histogram.get(int(bucket), 0) + count
    return {
        "received": [n for r in reports for n in r["received"]],
        "errors": [e for r in reports for e in r["errors"]],
        "gaps": sum(r["gaps"] for r in reports),
        "disorder": sum(r["disorder"] for r in reports),
        "histogram": histogram,
    }


def _latency_line(histogram: dict[int, int]) -> str:
    """p50/p99/max (upper edge of the 0.1 ms bucket) and the mean (bucket middles)."""
    total = sum(histogram.values())
    if not total:
        return "no events received"
    ordered = sorted(histogram.items())

    def quantile(q: float) -> float:
        rank, seen = q * total, 0
        for bucket, count in ordered:
            seen += count
            if seen >= rank:
                return (bucket + 1) * BUCKET_SECONDS * 1000
        return (ordered[-1][0] + 1) * BUCKET_SECONDS * 1000

    mean = sum((b + 0.5) * c for b, c in ordered) / total * BUCKET_SECONDS * 1000
    return (
        f"p50 {quantile(0.5):.1f} ms, p99 {quantile(0.99):.1f} ms, max {quantile(1.0):.1f} ms"
        f" (mean {mean:.1f} ms)"
    )


async def _start_workers(
    args: argparse.Namespace, url: str, key: str, types: str
) -> list[asyncio.subprocess.Process]:
    workers = []
    for n in range(args.client_processes):
        count = args.clients // args.client_processes + (n < args.clients % args.client_processes)
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client-worker",
            url,
            key,
            str(count),
            types,
            args.client,
            stdin=asyncio.subprocess.PIPE,
            limit=1 << 30,
            stdout=asyncio.subprocess.PIPE,
        )
        workers.append(worker)
    return workers


async def _stop_workers(workers: list[asyncio.subprocess.Process]) -> list[dict[str, Any]]:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(b"stop\n")
        await worker.stdin.drain()
    reports = []
    for worker in workers:
        assert worker.stdout is not None
        reports.append(orjson.loads(await worker.stdout.readline()))
        await worker.wait()
    return reports


async def _produce(args: argparse.Namespace, server: RunningFarm, key: str) -> tuple[int, int]:
    """Events produced (as the source counts them) and in the outbox meanwhile."""
    first_id = await _max_id(server)
    if args.source == "synthetic":
        emitted = await synthetic(server, args.seconds, args.writers, args.batch, args.rate)
    else:
        await simulator(server, args.seconds, args.printers, key)
        emitted = await _max_id(server) - first_id
    return emitted, first_id


async def main(args: argparse.Namespace) -> None:
    types = "bench.*" if args.source == "synthetic" else "*"
    # every client uses the one bench key: allow that many streams on it
    os.environ.setdefault("APF_EVENT_WS_MAX_PER_KEY", str(args.clients + 10))
    with tempfile.TemporaryDirectory() as tmp:
        async with running_farm(
            Path(tmp) / "data",
            demo=args.source == "simulator",
            database_url=args.database_url,
            rate_limit=1_000_000_000,  # the simulator source polls its jobs hard
        ) as server:
            key, _ = await KeyService(server.farm.db).create("bench", ["read", "write", "control"])
            url = server.api + "/events/ws"
            stop = asyncio.Event()
            workers: list[asyncio.subprocess.Process] = []
            local: asyncio.Task[list[Tally]] | None = None
            if args.same_process:
                local = asyncio.create_task(
                    run_clients(url, key, args.clients, types, args.client, stop)
                )
            else:
                workers = await _start_workers(args, url, key, types)
            hub = server.farm.event_hub
            async with asyncio.timeout(60):
                while len(hub.clients) < args.clients:
                    await asyncio.sleep(0.05)
            cpu_before = [cpu_seconds(p) for p in (os.getpid(), *(w.pid for w in workers))]
            started = time.monotonic()
            emitted, first_id = await _produce(args, server, key)
            produce_seconds = time.monotonic() - started
            cpu = [cpu_seconds(p) for p in (os.getpid(), *(w.pid for w in workers))]
            await asyncio.sleep(args.drain)  # let the clients catch up
            # the simulated printers keep reporting while the clients drain: count it all
            total_events = await _max_id(server) - first_id
            if local is not None:
                stop.set()
                result = tally_report(await local)
            else:
                result = _merge(await _stop_workers(workers))
    busy = [
        (after - before) / produce_seconds for before, after in zip(cpu_before, cpu, strict=True)
    ]
    _print(args, result, emitted, total_events, produce_seconds, busy)


def _print(
    args: argparse.Namespace,
    result: dict[str, Any],
    emitted: int,
    total_events: int,
    produce_seconds: float,
    busy: list[float],
) -> None:
    received = result["received"]
    delivered = sum(received)
    dropped = sum(1 for e in result["errors"] if e)
    where = (
        "the server's process"
        if args.same_process
        else (
            f"{args.client_processes} separate process{'es' if args.client_processes > 1 else ''}"
        )
    )
    print(
        f"source          {args.source}"
        + (
            f" ({args.writers} writers, batch {args.batch}, rate {args.rate or 'max'})"
            if args.source == "synthetic"
            else f" ({args.printers} printers)"
        )
    )
    print(
        f"clients         {args.clients} {args.client} clients in {where}"
        f" (dropped as too slow: {dropped})"
    )
    print(
        f"events          {emitted} in {produce_seconds:.2f} s = "
        f"{emitted / produce_seconds:,.0f} events/s through the outbox   goal >= 2,000 events/s"
    )
    print(
        f"frames received {delivered:,} = {delivered / max(1, total_events * args.clients):.1%} "
        f"of events x clients ({delivered / produce_seconds:,.0f} frames/s)"
    )
    print(
        f"order           {result['gaps']} gaps, {result['disorder']} repeated or out of order"
        " (ids per client)"
    )
    print(f"latency         {_latency_line(result['histogram'])}   goal p99 < 100 ms")
    shares = ", ".join(f"{b:.0%}" for b in busy[1:])
    print(
        f"cpu             server process {busy[0]:.0%} of a core"
        f" ({busy[0] * produce_seconds / max(1, emitted) * 1e6:,.0f} us per event)"
        + (f", client processes {shares}" if shares else "")
        + f" (while producing; load average {os.getloadavg()[0]:.2f})"
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
    parser.add_argument(
        "--client",
        choices=("fast", "aiohttp"),
        default="fast",
        help="fast: raw asyncio Protocol clients (default); aiohttp: aiohttp ws clients",
    )
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--same-process", action="store_true")
    if len(sys.argv) > 1 and sys.argv[1] == "--client-worker":
        _, _, url, key, count, types, mode = sys.argv
        asyncio.run(client_worker(url, key, int(count), types, mode))
    else:
        asyncio.run(main(parser.parse_args()))
