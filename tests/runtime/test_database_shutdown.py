"""A process that used SQLite exits even when a connection was never given back.

aiosqlite 0.22 runs each connection on a non-daemon thread; with the SQLAlchemy that Home Assistant
2025.4 pins, a connection abandoned at shutdown (a query cancelled mid-flight) kept the interpreter
waiting for that thread forever. This hung a whole CI run after its last test had passed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from apf_core.storage.db import Database

LEAK_AND_EXIT = textwrap.dedent(
    """
    import asyncio, sys
    from sqlalchemy import text
    from apf_core.storage.db import Database

    async def main(path):
        db = Database(f"sqlite:///{path}")
        leaked = await db.engine.connect()  # never closed, never returned to the pool
        await leaked.execute(text("SELECT 1"))
        print("leaked", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


def test_process_exits_with_a_connection_left_open(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LEAK_AND_EXIT, str(tmp_path / "farm.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "leaked"


async def test_sqlite_worker_threads_are_daemons(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'farm.db'}")
    before = set(threading.enumerate())
    try:
        async with db.read() as conn:
            await conn.exec_driver_sql("SELECT 1")
            opened = [t for t in threading.enumerate() if t not in before]
    finally:
        await db.dispose()
    assert opened, "a SQLite connection runs on a worker thread"
    assert all(t.daemon for t in opened)


async def test_dispose_stops_queries_still_running(tmp_path: Path) -> None:
    """A query still running when the farm stops gives its connection back before the engine
    closes; before, it was left to the garbage collector, which closed it inside whichever
    test happened to be running."""
    db = Database(f"sqlite:///{tmp_path / 'farm.db'}")
    holding = asyncio.Event()

    async def slow_reader() -> None:
        async with db.read() as conn:
            await conn.exec_driver_sql("SELECT 1")
            holding.set()
            await asyncio.Event().wait()  # never finishes on its own

    async def slow_writer() -> None:
        async with db.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            await asyncio.Event().wait()

    reader = asyncio.create_task(slow_reader())
    writer = asyncio.create_task(slow_writer())
    await holding.wait()
    await asyncio.sleep(0.1)
    pool = db.engine.pool
    assert pool.checkedout() == 2  # type: ignore[attr-defined]
    await asyncio.wait_for(db.dispose(), timeout=10)
    assert reader.cancelled() and writer.cancelled()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
