"""Analytics latency benchmark (not a test).

Seeds 100,000 jobs and 20,000 orders (plus printers, SKUs and spools) with bulk
inserts into a throw-away database, starts the real HTTP server, and prints
p50/p95 latency of every analytics endpoint over several runs.

    /work/venv/bin/python bench/analytics.py [--jobs N] [--orders N] [--runs N]

SQLite always; PostgreSQL too when ``APF_BENCH_DATABASE_URL`` is set (a
throw-away schema is created and dropped).
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
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("APF_AUTO_DISPATCH", "0")  # measure analytics alone

from apf_core.services.keys import KeyService
from apf_core.storage.db import Database, sqlite_url
from apf_core.storage.tables.catalogue import products, skus
from apf_core.storage.tables.materials import filament_spools
from apf_core.storage.tables.orders import orders
from apf_core.storage.tables.spine import jobs, printers
from apf_core.testing import running_farm
from apf_core.timeutil import new_id, utcnow

CHUNK = 5000
DAYS = 365
ENDPOINTS = ("overview", "production", "printers", "failures", "inventory", "revenue")
MATERIALS = ("PLA", "PETG", "ABS", "TPU", "ASA")
PLATFORMS = ("etsy", "shopify", "manual", "other")
ORDER_STATUSES = ("pending", "processing", "shipped", "fulfilled", "fulfilled", "cancelled",
                  "refunded")
REASONS = ("Spaghetti detected", "Layer shift", "Nozzle clog", "Bed adhesion", None)


async def bulk(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with db.begin() as conn:
            await conn.execute(insert(table), rows[start:start + CHUNK])


async def seed(db: Database, n_jobs: int, n_orders: int) -> None:
    rnd = random.Random(42)
    now = utcnow()
    printer_ids = [new_id() for _ in range(20)]
    await bulk(db, printers, [
        {"id": pid, "name": f"Printer {i:02d}", "protocol": "simulated", "status": "idle",
         "connection": {}, "created_at": now, "updated_at": now}
        for i, pid in enumerate(printer_ids)
    ])
    product_ids = [new_id() for _ in range(50)]
    await bulk(db, products, [
        {"id": pid, "name": f"Product {i}", "created_at": now, "updated_at": now}
        for i, pid in enumerate(product_ids)
    ])
    await bulk(db, skus, [
        {"id": new_id(), "product_id": product_ids[i % 50], "sku": f"SKU-{i:04d}",
         "color": "Red", "stock_level": rnd.randint(0, 40), "low_stock_threshold": 5,
         "is_active": True, "created_at": now, "updated_at": now}
        for i in range(500)
    ])
    await bulk(db, filament_spools, [
        {"id": new_id(), "type": MATERIALS[i % 5], "color": f"C{i}",
         "remaining_grams": float(rnd.randint(0, 1000)), "low_threshold": 100.0,
         "created_at": now, "updated_at": now}
        for i in range(60)
    ])
    job_rows = []
    for _ in range(n_jobs):
        when = now - timedelta(minutes=rnd.randint(0, DAYS * 24 * 60))
        status = rnd.choices(("completed", "failed", "cancelled", "queued"), (80, 10, 5, 5))[0]
        finished = status != "queued"
        job_rows.append({
            "id": new_id(), "status": status, "printer_id": rnd.choice(printer_ids),
            "product_id": rnd.choice(product_ids), "number_of_units": rnd.randint(1, 8),
            "filament_type": rnd.choice(MATERIALS), "filament_weight_grams": rnd.uniform(2, 200),
            "estimated_print_time_minutes": rnd.randint(10, 600),
            "actual_print_time_minutes": rnd.randint(10, 600) if finished else None,
            "failure_reason": rnd.choice(REASONS) if status == "failed" else None,
            "file_name": "part.gcode", "time_submitted": when,
            "time_completed": when if finished else None, "created_at": when, "updated_at": when,
        })
    await bulk(db, jobs, job_rows)
    order_rows = []
    for n in range(n_orders):
        when = now - timedelta(minutes=rnd.randint(0, DAYS * 24 * 60))
        order_rows.append({
            "id": new_id(), "order_number": f"B-{n:06d}", "platform": rnd.choice(PLATFORMS),
            "customer_name": "Bench", "order_date": when, "status": rnd.choice(ORDER_STATUSES),
            "total_revenue": rnd.randint(500, 20000), "created_at": when, "updated_at": when,
        })
    await bulk(db, orders, order_rows)


async def measure(base: str, key: str, runs: int) -> dict[tuple[str, str], list[float]]:
    today = utcnow().date()
    ranges = {
        "30d": {},
        "365d": {"from": (today - timedelta(days=DAYS)).isoformat(), "to": today.isoformat()},
    }
    timings: dict[tuple[str, str], list[float]] = {}
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for name in ENDPOINTS:
            for label, params in ranges.items():
                if name == "overview" and label != "30d":
                    continue
                url = f"{base}/analytics/{name}"
                samples = []
                for run in range(runs + 1):
                    started = time.perf_counter()
                    async with session.get(url, params=params) as resp:
                        await resp.read()
                        if resp.status != 200:
                            raise RuntimeError(f"{url} -> {resp.status}")
                    if run:  # the first run warms caches
                        samples.append((time.perf_counter() - started) * 1000)
                timings[(name, label)] = samples
    return timings


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


async def bench(label: str, db: Database, args: argparse.Namespace, data_dir: Path) -> None:
    started = time.perf_counter()
    async with running_farm(data_dir, demo=False, db=db) as server:
        await seed(db, args.jobs, args.orders)
        seeded = time.perf_counter() - started
        key, _ = await KeyService(db).create("bench", ["read"])
        timings = await measure(server.api, key, args.runs)
    print(f"\n== {label}: {args.jobs:,} jobs, {args.orders:,} orders "
          f"(schema + seed {seeded:.1f}s), {args.runs} runs each ==")
    print(f"{'endpoint':<24}{'range':>6}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for (name, span), samples in timings.items():
        print(f"{'/analytics/' + name:<24}{span:>6}{statistics.median(samples):>10.1f}"
              f"{percentile(samples, 95):>10.1f}{max(samples):>10.1f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="apf-bench-") as tmp:
        db = Database(sqlite_url(Path(tmp) / "bench.db"))
        try:
            await bench("SQLite", db, args, Path(tmp) / "sqlite")
        finally:
            await db.dispose()
        pg_url = os.environ.get("APF_BENCH_DATABASE_URL")
        if pg_url:
            await bench_postgres(pg_url, args, Path(tmp) / "pg")
        else:
            print("\n(PostgreSQL skipped: set APF_BENCH_DATABASE_URL to include it)")


async def bench_postgres(url: str, args: argparse.Namespace, data_dir: Path) -> None:
    import asyncpg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    db = Database(url, schema=schema)
    try:
        await bench("PostgreSQL", db, args, data_dir)
    finally:
        await db.dispose()
        conn = await asyncpg.connect(plain)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
