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
import base64
import contextlib
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apf_core.services.keys import KeyService
from apf_core.testing import RunningFarm, running_farm

EVENT_PREFIX = b'{"kind":"event","id":'
TIME_KEY = b'"time":"'
#: latencies are counted in buckets of 0.1 ms (merged over the client processes)
BUCKET_SECONDS = 1e-4


class Tally:
    """What one client saw: events, order faults, a latency histogram, an error code."""

    def __init__(self) -> None:
        self.received = 0
        self.last_id = 0
        #: an id that skipped ahead of last + 1, or one not above the last (duplicate/reorder)
        self.gaps = 0
        self.disorder = 0
        self.histogram: dict[int, int] = {}
        self.error: str | None = None

    def event(self, event_id: int, latency: float) -> None:
        if self.last_id:
            if event_id <= self.last_id:
                self.disorder += 1
            elif event_id != self.last_id + 1:
                self.gaps += 1
        self.last_id = max(self.last_id, event_id)
        self.received += 1
        bucket = int(latency / BUCKET_SECONDS)
        self.histogram[bucket] = self.histogram.get(bucket, 0) + 1

    def other(self, frame: dict[str, Any]) -> None:
        if frame.get("kind") == "error":
            self.error = frame["code"]


class AiohttpClient:
    """aiohttp's WebSocket client, JSON-parsing every frame (slower than the server)."""

    def __init__(self) -> None:
        self.tally = Tally()

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
                    created = datetime.fromisoformat(frame["time"].replace("Z", "+00:00"))
                    self.tally.event(frame["id"], now - created.timestamp())
                else:
                    self.tally.other(frame)


class FastClient(asyncio.Protocol):
    """A WebSocket client on a raw asyncio Protocol: the handshake by hand, then server
    frames parsed in bulk from each read (header + length, never masked). Of an event
    frame it reads only the id and the time (a shared cache parses each time string
    once per process); every frame is counted and timed at the arrival of its read."""

    def __init__(self, request: bytes, times: dict[bytes, float]) -> None:
        self.tally = Tally()
        self.closed = asyncio.get_running_loop().create_future()
        self._request = request
        self._times = times
        self._buffer = b""
        self._upgraded = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        if not self._upgraded:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                self._buffer = buffer
                return
            status = buffer[: buffer.find(b"\r\n")]
            if b" 101 " not in status:
                self.tally.error = status.decode(errors="replace")
                self.close()
                return
            self._upgraded = True
            buffer = buffer[head_end + 4 :]
        self._buffer = self._frames(buffer, time.time())

    def _frames(self, buffer: bytes, now: float) -> bytes:
        """Handle the complete frames in ``buffer``; returns the incomplete rest."""
        at, size = 0, len(buffer)
        while size - at >= 2:
            length = buffer[at + 1] & 0x7F
            start = at + 2
            if length == 126:
                start = at + 4
                length = int.from_bytes(buffer[at + 2 : start])
            elif length == 127:
                start = at + 10
                length = int.from_bytes(buffer[at + 2 : start])
            end = start + length
            if end > size:
                break
            opcode = buffer[at] & 0x0F
            if opcode == 1 and buffer.startswith(EVENT_PREFIX, start):
                self._event(buffer, start, now)
            elif opcode == 1:
                self.tally.other(orjson.loads(buffer[start:end]))
            elif opcode == 9:  # ping: a masked pong (zero mask key) with the same payload
                self._send(0x8A, buffer[start:end])
            elif opcode == 8:
                self._send(0x88, buffer[start:end])
                self.close()
            at = end
        return buffer[at:]

    def _event(self, buffer: bytes, start: int, now: float) -> None:
        id_start = start + len(EVENT_PREFIX)
        id_end = buffer.index(b",", id_start)
        time_start = buffer.index(TIME_KEY, id_end) + len(TIME_KEY)
        stamp = buffer[time_start : buffer.index(b'"', time_start)]
        created = self._times.get(stamp)
        if created is None:
            if len(self._times) > 100_000:
                self._times.clear()
            created = self._times[stamp] = datetime.fromisoformat(stamp.decode()).timestamp()
        self.tally.event(int(buffer[id_start:id_end]), now - created)

    def _send(self, opcode: int, payload: bytes) -> None:
        if self._transport is not None and len(payload) < 126:
            self._transport.write(bytes((opcode, 0x80 | len(payload))) + b"\0\0\0\0" + payload)


def _upgrade_request(url: str, key: str, types: str) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    path = f"{parts.path}?{urlencode({'types': types})}"
    nonce = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {key}\r\n\r\n"
    )
    return parts.hostname or "127.0.0.1", parts.port or 80, request.encode()


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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_clients(
    url: str, key: str, count: int, types: str, mode: str, stop: asyncio.Event
) -> list[Tally]:
    if mode == "aiohttp":
        slow = [AiohttpClient() for _ in range(count)]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            tasks = [asyncio.create_task(c.run(session, url, key, types)) for c in slow]
            await stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return [c.tally for c in slow]
    loop = asyncio.get_running_loop()
    host, port, request = _upgrade_request(url, key, types)
    times: dict[bytes, float] = {}
    fast = [FastClient(request, times) for _ in range(count)]
    for client in fast:
        await loop.create_connection(lambda c=client: c, host, port)  # type: ignore[misc]
    await stop.wait()
    for client in fast:
        client.close()
    await asyncio.gather(*(c.closed for c in fast))
    return [c.tally for c in fast]


def _report(tallies: list[Tally]) -> dict[str, Any]:
    histogram: dict[int, int] = {}
    for tally in tallies:
        for bucket, count in tally.histogram.items():
            histogram[bucket] = histogram.get(bucket, 0) + count
    return {
        "received": [t.received for t in tallies],
        "errors": [t.error for t in tallies],
        "gaps": sum(t.gaps for t in tallies),
        "disorder": sum(t.disorder for t in tallies),
        "histogram": histogram,
    }


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
    sys.stdout.write(orjson.dumps(_report(tallies), option=orjson.OPT_NON_STR_KEYS).decode())
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
            cpu_before = [_cpu_seconds(p) for p in (os.getpid(), *(w.pid for w in workers))]
            started = time.monotonic()
            emitted, first_id = await _produce(args, server, key)
            produce_seconds = time.monotonic() - started
            cpu = [_cpu_seconds(p) for p in (os.getpid(), *(w.pid for w in workers))]
            await asyncio.sleep(args.drain)  # let the clients catch up
            # the simulated printers keep reporting while the clients drain: count it all
            total_events = await _max_id(server) - first_id
            if local is not None:
                stop.set()
                result = _report(await local)
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
