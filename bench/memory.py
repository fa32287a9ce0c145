"""Memory (RSS) of a 1,000-printer farm with 10,000 queued jobs and 100 WebSocket clients.

Starts a real server (SQLite in a temp dir, or ``--database-url``), seeds the
printers and queued jobs (the rows of ``bench/dispatch.py``), runs one dispatch pass
(starts off), gives every printer live state through the telemetry bridge for ``--seconds`` at 1 Hz (coalesced
events, outbox, fan-out), connects ``--clients`` WebSocket clients to the event
stream and reads the job list and printer list once. The clients run in the same
process, so the figure is pessimistic. Goal (issue 14): < 500 MB RSS.

    .venv/bin/python bench/memory.py [--printers 1000] [--jobs 10000] [--clients 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apf_core.dispatch import Dispatcher
from apf_core.drivers.base import PrinterState, Status
from apf_core.storage.tables.spine import printers
from apf_core.testing import running_farm
from bench.dispatch import seed

GOAL_MB = 500


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


async def run(args: argparse.Namespace) -> None:
    os.environ["APF_AUTO_DISPATCH"] = "0"  # the queue stays queued: no printer has a driver
    os.environ.setdefault("APF_EVENT_WS_MAX_PER_KEY", str(args.clients + 10))
    with tempfile.TemporaryDirectory() as tmp:
        start_rss = rss_mb()[0]
        async with running_farm(
            Path(tmp) / "data", demo=False, database_url=args.database_url, rate_limit=10**9
        ) as server:
            farm = server.farm
            await seed(farm, args.jobs, args.printers, random.Random(7))
            async with farm.db.read() as conn:
                ids = [str(r.id) for r in await conn.execute(printers.select())]
            await _dispatch_pass(farm)  # the dispatcher's snapshot of the queue, held once
            telemetry = farm.telemetry
            headers = {"Authorization": f"Bearer {server.api_key}"}
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
                sockets = [
                    await session.ws_connect(server.api + "/events/ws", max_msg_size=0)
                    for _ in range(args.clients)
                ]
                drains = [asyncio.create_task(_drain(ws)) for ws in sockets]
                for second in range(int(args.seconds)):
                    for n, pid in enumerate(ids):
                        telemetry.on_state(
                            pid,
                            PrinterState(
                                status=Status.IDLE,
                                nozzle_temp=25.0 + (n + second) % 7,
                                bed_temp=24.0,
                            ),
                        )
                    await asyncio.sleep(1.0)
                for path in ("/jobs?limit=100", "/printers"):
                    async with session.get(server.api + path) as resp:
                        await resp.read()
                current, peak = rss_mb()
                for task in drains:
                    task.cancel()
                for ws in sockets:
                    await ws.close()
    load = os.getloadavg()[0]
    ok = "met" if peak < GOAL_MB else "NOT met"
    print(
        f"{args.printers} printers (live state), {args.jobs} queued jobs, {args.clients} WebSocket"
        f" clients, {args.seconds:.0f} s of telemetry (load average {load:.2f})\n"
        f"RSS {current:.0f} MB, peak {peak:.0f} MB (interpreter and imports before start:"
        f" {start_rss:.0f} MB)   goal < {GOAL_MB} MB: {ok}",
        flush=True,
    )


async def _dispatch_pass(farm: Any) -> None:
    """One dispatch pass over the whole queue, with starting switched off."""
    dispatcher = Dispatcher(farm)

    async def no_start(job: Any, printer: Any) -> None:
        dispatcher._reserved.discard(printer.id)

    dispatcher._start = no_start  # type: ignore[method-assign]
    await dispatcher.run_pass()


async def _drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    async for _msg in ws:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--printers", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--database-url", default=None)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
