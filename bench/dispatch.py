"""Time one dispatch pass over 10,000 queued jobs and 1,000 printers.

Two figures: the planning step alone (pure: constraints, soft score,
de-duplicated matching), and a full pass against a real database (read the
snapshot from SQLite or PostgreSQL, plan, reserve) with starting switched off,
so only the dispatcher's own cost is measured.

    python bench/dispatch.py [--jobs 10000] [--printers 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from telemetry import pg_schema  # bench/ is on sys.path when run as a script

from apf_core.config import Settings
from apf_core.dispatch import Dispatcher, JobInfo, PrinterInfo, Slot, plan
from apf_core.domain.live import LiveStatus
from apf_core.farm import Farm
from apf_core.storage.db import Database
from apf_core.storage.tables.spine import jobs, print_files, printers
from apf_core.timeutil import new_id, utcnow

MODELS = ["MK4", "X1 Carbon", "Voron 2.4", "Ender-3 V3", "P1S"]
MATERIALS = ["PLA", "PETG", "ABS", "ASA", "TPU"]
COLOURS = [
    ("Black", "#000000"),
    ("White", "#FFFFFF"),
    ("Red", "#FF0000"),
    ("Blue", "#0000FF"),
    ("Orange", "#FF6600"),
    ("Grey", "#808080"),
]
#: timed passes after a warm-up one (one pass alone is at the mercy of other load)
PASSES = 7
TAGS = ["enclosed", "fast", "hardened", "big", "rack-a", "rack-b"]


class AlwaysOnline:
    def is_online(self, printer_id: str) -> bool:
        return True

    async def execute(self, *args: Any, **kwargs: Any) -> Any:  # never called: starts are off
        raise RuntimeError("bench does not start prints")


def synthetic(
    n_jobs: int, n_printers: int, rng: random.Random
) -> tuple[list[JobInfo], list[PrinterInfo]]:
    printer_infos = []
    for i in range(n_printers):
        name, hexcode = rng.choice(COLOURS)
        printer_infos.append(
            PrinterInfo(
                id=f"p{i}",
                name=f"printer {i}",
                model=rng.choice(MODELS),
                nozzle_size=rng.choice([0.4, 0.4, 0.6]),
                tags=frozenset(rng.sample(TAGS, 2)),
                slots=(Slot(rng.choice(MATERIALS), name, hexcode),),
                awaiting_bed_clear=rng.random() < 0.3,
                load=(0, rng.randint(0, 5000)),
            )
        )
    now = utcnow()
    job_infos = [
        JobInfo(
            id=f"j{i}",
            priority=rng.choice([0, 0, 0, 5, 10]),
            submitted=now - timedelta(minutes=i),
            model=rng.choice([*MODELS, None]),
            nozzle=0.4,
            filament_type=rng.choice(MATERIALS),
            colour=rng.choice(COLOURS)[0],
            tags=frozenset(rng.sample(TAGS, rng.randint(0, 1))),
        )
        for i in range(n_jobs)
    ]
    return job_infos, printer_infos


async def seed(farm: Farm, n_jobs: int, n_printers: int, rng: random.Random) -> None:
    now = utcnow()
    printer_rows = []
    for i in range(n_printers):
        name, hexcode = rng.choice(COLOURS)
        printer_rows.append(
            {
                "id": new_id(),
                "name": f"printer {i:04d}",
                "model": rng.choice(MODELS),
                "status": "idle",
                "protocol": "simulated",
                "connection": {},
                "nozzle_size": 0.4,
                "current_filament_type": rng.choice(MATERIALS),
                "current_color": name,
                "current_color_hex": hexcode,
                "tags": rng.sample(TAGS, 2),
                "is_active": False,
                "awaiting_bed_clear": rng.random() < 0.3,
                "created_at": now,
                "updated_at": now,
            }
        )
    file_id = new_id()
    job_rows = [
        {
            "id": new_id(),
            "status": "queued",
            "print_file_id": file_id,
            "file_name": "part.gcode",
            "priority": rng.choice([0, 0, 0, 5, 10]),
            "filament_type": rng.choice(MATERIALS),
            "color": rng.choice(COLOURS)[0],
            "printer_model": rng.choice([*MODELS, None]),
            "required_tags": rng.sample(TAGS, rng.randint(0, 1)) or None,
            "time_submitted": now - timedelta(seconds=i),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n_jobs)
    ]
    async with farm.db.begin() as conn:
        await conn.execute(
            insert(print_files).values(
                id=file_id,
                name="part.gcode",
                storage_key="x",
                nozzle_diameter=0.4,
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(insert(printers), printer_rows)
        for start in range(0, len(job_rows), 2000):
            await conn.execute(insert(jobs), job_rows[start : start + 2000])
    for row in printer_rows:  # printers are "online" for the dispatcher
        farm.live.set(str(row["id"]), LiveStatus(online=True, status="idle"))
    async with farm.db.begin() as conn:
        await conn.execute(printers.update().values(is_active=True))


async def full_pass(
    n_jobs: int, n_printers: int, database_url: str | None, rng: random.Random
) -> tuple[list[float], int]:
    # PostgreSQL: a schema of its own, dropped after (repeated runs do not pile up rows)
    schema = await pg_schema(database_url) if database_url else None
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=database_url)
        farm = Farm(settings, db=Database(settings.db_url, schema=schema))
        await farm.start(runtime_modules=False)
        try:
            await seed(farm, n_jobs, n_printers, rng)
            farm.control = AlwaysOnline()
            dispatcher = Dispatcher(farm)
            started: list[str] = []

            async def no_start(job: JobInfo, printer: PrinterInfo) -> Any:
                started.append(printer.id)
                dispatcher._reserved.discard(printer.id)

            dispatcher._start = no_start  # type: ignore[method-assign]
            await dispatcher.run_pass()  # warm up connections and caches
            timings = []
            for _ in range(PASSES):  # each pass plans the same: starts are off
                started.clear()
                t0 = time.perf_counter()
                await dispatcher.run_pass()
                timings.append(time.perf_counter() - t0)
            return timings, len(started)
        finally:
            await farm.stop()
            if database_url and schema:
                await pg_schema(database_url, drop=schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--printers", type=int, default=1_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    rng = random.Random(42)

    job_infos, printer_infos = synthetic(args.jobs, args.printers, rng)
    t0 = time.perf_counter()
    pairs = plan(job_infos, printer_infos)
    planning = time.perf_counter() - t0
    print(
        f"plan only: {args.jobs} queued jobs x {args.printers} printers -> "
        f"{len(pairs)} assignments in {planning * 1000:.1f} ms"
    )

    timings, assigned = asyncio.run(full_pass(args.jobs, args.printers, args.database_url, rng))
    backend = "PostgreSQL" if args.database_url and "postgres" in args.database_url else "SQLite"
    print(
        f"full pass ({backend}: snapshot read + plan + reserve): {args.jobs} jobs x "
        f"{args.printers} printers -> {assigned} assignments in "
        f"{statistics.median(timings) * 1000:.1f} ms median of {PASSES} passes "
        f"(best {min(timings) * 1000:.1f} ms)   goal < 100 ms"
    )


if __name__ == "__main__":
    main()
