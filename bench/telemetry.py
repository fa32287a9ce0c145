"""Telemetry ingest: 1,000 simulated printers' frames through the real ingest path.

Frames go to :class:`apf_core.telemetry.TelemetryBridge` exactly as drivers send
them: live state, coalesced ``printer.status`` / ``job.progress`` events in the
outbox, throttled progress writes, and status changes persisted through
:func:`apf_core.lifecycle.facts.apply_report` (job and printer rows, events).
Every printer has a printing job; each second ``--flip`` of the printers pause
or resume at the printer, so the lifecycle moves jobs while the frames flow.

Printed: frames/s reached against the offered rate (``--printers`` x ``--hz``),
CPU per frame (process CPU time / frames, so everything the process did), and
how far the persisted state lags: from the frame that changed a printer's status
to the commit of its row and job (p50/p99/max), plus the backlog left at the end.
Goal (issue 14): >= 5,000 frames/s on one core (1,000 printers at 5 Hz) on
SQLite and PostgreSQL. A benchmark, not a test:

    .venv/bin/python bench/telemetry.py [--seconds 10] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apf_core.config import Settings
from apf_core.drivers.base import PrinterState, Status
from apf_core.farm import Farm
from apf_core.storage.db import Database
from apf_core.storage.tables.spine import jobs, print_files, printers
from apf_core.telemetry import TelemetryBridge
from apf_core.timeutil import new_id, utcnow

GOAL_FPS = 5000


async def seed(farm: Farm, n: int) -> list[str]:
    now = utcnow()
    file_id = new_id()
    ids = [new_id() for _ in range(n)]
    printer_rows = [
        {
            "id": pid,
            "name": f"printer {i:04d}",
            "status": "printing",
            "protocol": "simulated",
            "connection": {},
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        }
        for i, pid in enumerate(ids)
    ]
    job_rows = [
        {
            "id": new_id(),
            "status": "printing",
            "print_file_id": file_id,
            "printer_id": pid,
            "file_name": "part.gcode",
            "time_submitted": now,
            "time_started": now,
            "created_at": now,
            "updated_at": now,
        }
        for pid in ids
    ]
    async with farm.db.begin() as conn:
        await conn.execute(
            insert(print_files).values(
                id=file_id, name="part.gcode", storage_key="x", created_at=now, updated_at=now
            )
        )
        await conn.execute(insert(printers), printer_rows)
        await conn.execute(insert(jobs), job_rows)
    return ids


class Lag:
    """Frame time of each status change -> commit time of its transition."""

    def __init__(self, bridge: TelemetryBridge) -> None:
        self.sent: dict[tuple[str, int], float] = {}
        self.lags: list[float] = []
        original = bridge._transition

        async def timed(tracker: Any, transition: Any) -> None:
            await original(tracker, transition)
            sent = self.sent.pop((tracker.printer_id, id(transition.state)), None)
            if sent is not None:
                self.lags.append(time.perf_counter() - sent)

        bridge._transition = timed  # type: ignore[method-assign]


async def drive(farm: Farm, ids: list[str], args: argparse.Namespace) -> dict[str, float]:
    bridge = TelemetryBridge(farm)
    lag = Lag(bridge)
    rng = random.Random(1)
    status = dict.fromkeys(ids, Status.PRINTING)
    progress = {pid: rng.uniform(0, 50) for pid in ids}
    for pid in ids:  # the first frame of each printer (start-up), not timed
        bridge.on_state(pid, PrinterState(status=Status.PRINTING, progress=progress[pid]))
    await bridge.settle(timeout=120)
    lag.lags.clear()
    offered = len(ids) * args.hz
    interval = 1.0 / args.hz
    flips_per_tick = max(1, round(len(ids) * args.flip / args.hz))
    frames = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + args.seconds
    tick = t0
    while tick < deadline:
        flipping = set(rng.sample(ids, flips_per_tick))
        for pid in ids:
            if pid in flipping:
                status[pid] = Status.PAUSED if status[pid] is Status.PRINTING else Status.PRINTING
            progress[pid] = min(100.0, progress[pid] + 0.01)
            state = PrinterState(
                status=status[pid],
                progress=round(progress[pid], 2),
                nozzle_temp=215.0 + rng.random(),
                bed_temp=60.0 + rng.random(),
                layer_num=int(progress[pid] * 2),
                total_layers=200,
                remaining_time_minutes=int(100 - progress[pid]),
            )
            if pid in flipping:
                lag.sent[(pid, id(state))] = time.perf_counter()
            bridge.on_state(pid, state)
            frames += 1
        tick += interval
        await asyncio.sleep(max(0.0, tick - time.perf_counter()))
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    backlog = sum(len(t.pending) for t in bridge._trackers.values())
    t_settle = time.perf_counter()
    await bridge.settle(timeout=60)
    settle = time.perf_counter() - t_settle
    await bridge.stop()
    lags = sorted(lag.lags) or [0.0]
    return {
        "offered": offered,
        "fps": frames / elapsed,
        "cpu_us": cpu / frames * 1e6,
        "cpu_share": cpu / elapsed,
        "transitions": len(lag.lags),
        "p50": statistics.median(lags) * 1000,
        "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))] * 1000,
        "max": lags[-1] * 1000,
        "backlog": backlog,
        "settle": settle,
    }


async def pg_schema(url: str, drop: str | None = None) -> str:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        if drop:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{drop}" CASCADE')
            return drop
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        return schema
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> None:
    backend = "PostgreSQL" if args.database_url else "SQLite"
    schema = await pg_schema(args.database_url) if args.database_url else None
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.database_url)
        db = Database(settings.db_url, schema=schema)
        farm = Farm(settings, db=db)
        await farm.start(runtime_modules=False)
        try:
            ids = await seed(farm, args.printers)
            result = await drive(farm, ids, args)
        finally:
            await farm.stop()
            if schema:
                await pg_schema(str(args.database_url), drop=schema)
    load = os.getloadavg()
    ok = "meets" if result["fps"] >= min(GOAL_FPS, result["offered"]) * 0.98 else "BELOW"
    print(
        f"{backend}: {args.printers} printers x {args.hz} Hz for {args.seconds:.0f} s"
        f" (load average {load[0]:.2f})\n"
        f"  frames/s        {result['fps']:8.0f} of {result['offered']:.0f} offered"
        f"   goal >= {GOAL_FPS} on one core: {ok}\n"
        f"  CPU per frame   {result['cpu_us']:8.1f} us   (process CPU {result['cpu_share']:.0%}"
        f" of one core, all work included)\n"
        f"  persisted lag   p50 {result['p50']:.0f} ms  p99 {result['p99']:.0f} ms"
        f"  max {result['max']:.0f} ms over {result['transitions']:.0f} status changes"
        f" (backlog at the end {result['backlog']:.0f}, drained in {result['settle']:.1f} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--printers", type=int, default=1000)
    parser.add_argument("--hz", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--flip", type=float, default=0.02, help="share of printers pausing/resuming per second"
    )
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temp dir)"
    )
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
