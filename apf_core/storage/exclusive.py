"""One server process per SQLite file.

SQLite is the zero-setup database of a single ``apf serve``. Two servers on one
file would both run the dispatcher and the printer drivers and keep diverging
in-memory state, so the server holds an exclusive ``flock`` on ``<db>.lock``
next to the database for its whole life; a second server is refused with a
message that says what to do. The kernel drops the lock when the holder exits,
even on SIGKILL, so a crash never leaves a stale lock behind.

Short-lived commands (``apf keys …``) do not take the lock: their single
transactions are safe under SQLite's own file locking, and the running server
sees their writes within a second (see ``Database.cached``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url


class DatabaseInUse(RuntimeError):
    """Another server process already uses this SQLite database."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; ``None`` for any other database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return None
    return Path(parsed.database).resolve()


@contextlib.contextmanager
def sole_sqlite_server(url: str) -> Iterator[None]:
    """Hold the SQLite file of ``url`` for this process (no-op for PostgreSQL)."""
    path = sqlite_path(url)
    if path is None or sys.platform == "win32":
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DatabaseInUse(
                f"another APF server (pid {holder}) is already running on the SQLite database"
                f" {path}. SQLite serves one process: stop the other server first, or use"
                " PostgreSQL (--database-url / APF_DATABASE_URL) to run several processes"
                " on one farm."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
