"""Write transactions of one event each, in process: the database half of ``bench/events.py``.

``--writers`` tasks each run ``Database.begin()`` + ``EventBus.emit()`` in a loop for
``--seconds``, on SQLite in a temporary directory (or ``--database-url``), with no server
and no WebSocket clients. Printed: transactions/s, CPU per transaction for the whole
process and for the event loop's thread alone (the rest is the database threads), and
whether every event was published. What a one-event transaction costs here bounds
``bench/events.py`` (issue 14: >= 2,000 events/s, one event per transaction). On a VM,
``taskset -c 0`` in front shows what waking the other CPU for each hand-off to the
SQLite thread costs. A benchmark, not a test:

    .venv/bin/python bench/transactions.py [--writers 4] [--seconds 3] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apf_core.domain.events import EventBus
from apf_core.storage.db import Database, sqlite_url


async def run(url: str, writers: int, seconds: float) -> None:
    db = Database(url)
    await db.migrate()
    bus = EventBus(db)
    published: list[int] = []
    bus.subscribe(lambda event: published.append(event.id))
    stop = time.monotonic() + seconds

    async def writer(n: int) -> int:
        count = 0
        while time.monotonic() < stop:
            async with db.begin() as conn:
                await bus.emit(conn, "bench.tick", {"writer": n, "seq": count})
            count += 1
        return count

    loop_cpu, process_cpu, started = time.thread_time(), time.process_time(), time.perf_counter()
    total = sum(await asyncio.gather(*(writer(n) for n in range(writers))))
    elapsed = time.perf_counter() - started
    loop_cpu, process_cpu = time.thread_time() - loop_cpu, time.process_time() - process_cpu
    await db.dispose()
    print(f"database        {db.dialect}, {writers} writers, {seconds:g} s")
    print(
        f"transactions    {total / elapsed:,.0f}/s (one event each)   "
        "bounds bench/events.py: goal >= 2,000 events/s"
    )
    print(
        f"cpu             {process_cpu / total * 1e6:,.0f} us per transaction in the process,"
        f" {loop_cpu / total * 1e6:,.0f} us on the event loop's thread"
    )
    print(f"published       {len(published)} of {total} after commit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or sqlite_url(Path(tmp) / "bench.db")
        asyncio.run(run(url, args.writers, args.seconds))


if __name__ == "__main__":
    main()
