"""``apf backup PATH`` / ``apf restore PATH``: the farm's database and files in one archive.

The archive is a gzipped tar (mode 0600: it holds key hashes and the hub vault
key) with ``manifest.json``, the database (``apf.db`` from SQLite's online
backup API, a consistent snapshot even while the server writes; or
``database.dump`` from ``pg_dump --format=custom`` for PostgreSQL) and
``data/``: everything else in the data directory (print files, images, the
vault key) except half-received uploads. The database is snapshotted first, so
every file it names is in the archive.

Restore refuses a target that already holds a farm (unless ``force``), puts
the database and files in place, then runs the migrations so an older
snapshot opens on a newer APF. Stop the server before restoring.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url

from . import __version__
from .config import Settings
from .storage.db import Database, normalise_url
from .storage.tables.spine import api_keys, jobs, print_files, printers

FORMAT = 1
SQLITE_NAME = "apf.db"
PG_NAME = "database.dump"
#: data-directory entries never archived: the live database files and uploads in flight
_SKIPPED = {"apf.db", "apf.db-wal", "apf.db-shm", "files/.incoming", "files/.claimed"}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why in words."""


@dataclass(frozen=True, slots=True)
class Summary:
    path: Path
    database: str
    files: int


def archive_path(target: Path) -> Path:
    """``target`` itself, or a time-stamped archive inside it when it is a directory."""
    if target.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return target / f"apf-backup-{stamp}.tar.gz"
    return target


def _dialect(url: str) -> str:
    return "sqlite" if normalise_url(url).startswith("sqlite") else "postgresql"


def backup(settings: Settings, target: Path, *, schema: str | None = None) -> Summary:
    """Write an archive of the farm at ``settings`` to ``target`` (see the module doc).
    ``schema``: only that PostgreSQL schema (tests run farms side by side in schemas).
    Blocking: run it in a thread from async code."""
    out = archive_path(target)
    dialect = _dialect(settings.db_url)
    with tempfile.TemporaryDirectory(prefix="apf-backup-") as work:
        dump = Path(work) / (SQLITE_NAME if dialect == "sqlite" else PG_NAME)
        if dialect == "sqlite":
            _sqlite_snapshot(_sqlite_file(settings), dump)
        else:
            _pg_dump(settings.db_url, dump, schema)
        manifest = {
            "format": FORMAT,
            "apf_version": __version__,
            "created_at": datetime.now(UTC).isoformat(),
            "database": dialect,
        }
        partial = out.with_name(out.name + ".part")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
                tar.add(dump, arcname=dump.name)
                count = _add_data_dir(tar, settings.data_dir)
            partial.replace(out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return Summary(out, dialect, count)


def restore(
    settings: Settings, source: Path, *, force: bool = False, schema: str | None = None
) -> Summary:
    """Put the farm in ``source`` into ``settings``' data directory and database.
    Blocking, and runs its own event loop: call it from a thread in async code."""
    if not source.is_file():
        raise BackupError(f"{source} is not a backup file")
    dialect = _dialect(settings.db_url)
    try:
        with tarfile.open(source, "r:gz") as tar:
            manifest = _manifest(tar)
            if manifest["database"] != dialect:
                raise BackupError(
                    f"the backup holds a {manifest['database']} database but this farm uses "
                    f"{dialect}; restore it with a matching --database-url"
                )
            if not force and asyncio.run(_holds_a_farm(settings.db_url, schema)):
                raise BackupError(
                    "the target already holds a farm; restore into a fresh data directory "
                    "(or database), or pass --force to replace it"
                )
            with tempfile.TemporaryDirectory(prefix="apf-restore-") as work:
                tar.extractall(work, filter="data")
                root = Path(work)
                files = _restore_data_dir(root / "data", settings.data_dir)
                if dialect == "sqlite":
                    _sqlite_install(root / SQLITE_NAME, _sqlite_file(settings))
                else:
                    _pg_restore(settings.db_url, root / PG_NAME)
    except (tarfile.TarError, OSError, KeyError, ValueError) as err:
        raise BackupError(f"{source} is not a usable APF backup: {err}") from None
    asyncio.run(_migrate(settings.db_url, schema))
    return Summary(source, dialect, files)


# --- SQLite -------------------------------------------------------------------------


def _sqlite_file(settings: Settings) -> Path:
    name = make_url(settings.db_url).database
    if not name:
        raise BackupError("the SQLite database URL names no file")
    return Path(name)


def _sqlite_snapshot(source: Path, dump: Path) -> None:
    if not source.is_file():
        raise BackupError(f"no database at {source}: is the data directory right?")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(dump)
    try:
        src.backup(dst)  # online and consistent, even while the server writes (WAL)
    finally:
        dst.close()
        src.close()


def _sqlite_install(snapshot: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(target.name + ".restoring")
    shutil.copyfile(snapshot, staged)
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    staged.replace(target)


# --- PostgreSQL -------------------------------------------------------------------------


def _pg_command(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (that goes in PGPASSWORD, not the process list)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(tool: str, args: list[str], env: dict[str, str]) -> None:
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed; install the PostgreSQL client tools to back up "
            "or restore a PostgreSQL farm"
        )
    result = subprocess.run([tool, *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{tool} failed: {last}")


def _pg_dump(url: str, dump: Path, schema: str | None) -> None:
    dbname, env = _pg_command(url)
    args = ["--format=custom", "--no-owner", f"--file={dump}", f"--dbname={dbname}"]
    if schema:
        args.append(f"--schema={schema}")
    _run("pg_dump", args, env)


def _pg_restore(url: str, dump: Path) -> None:
    dbname, env = _pg_command(url)
    args = ["--clean", "--if-exists", "--no-owner", "--single-transaction", f"--dbname={dbname}"]
    _run("pg_restore", [*args, str(dump)], env)


# --- archive pieces ----------------------------------------------------------------------


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _add_data_dir(tar: tarfile.TarFile, data_dir: Path) -> int:
    """Regular files and folders of the data directory; ones removed meanwhile are skipped."""
    count = 0
    if not data_dir.is_dir():
        return count
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir).as_posix()
        if any(relative == s or relative.startswith(s + "/") for s in _SKIPPED):
            continue
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue
        try:
            tar.add(path, arcname=f"data/{relative}", recursive=False)
        except FileNotFoundError:
            continue
        count += path.is_file()
    return count


def _manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    member = tar.extractfile("manifest.json")
    if member is None:
        raise BackupError("the archive has no manifest.json")
    manifest: dict[str, Any] = json.loads(member.read())
    if manifest.get("format") != FORMAT or manifest.get("database") not in ("sqlite", "postgresql"):
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def _restore_data_dir(source: Path, data_dir: Path) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    if not source.is_dir():
        return count
    for path in sorted(source.rglob("*")):
        target = data_dir / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            count += 1
    return count


async def _migrate(url: str, schema: str | None) -> None:
    db = Database(url, schema=schema)
    try:
        await db.migrate()
    finally:
        await db.dispose()


async def _holds_a_farm(url: str, schema: str | None) -> bool:
    """A database with keys, printers, files or jobs (an empty, migrated one is fresh)."""
    db = Database(url, schema=schema)
    if db.is_sqlite:
        name = make_url(db.url).database
        if not name or not await asyncio.to_thread(Path(name).exists):
            await db.dispose()
            return False
    try:
        async with db.read() as conn:
            tables = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            for table in (api_keys, printers, print_files, jobs):
                if table.name in tables and await conn.scalar(
                    select(func.count()).select_from(table)
                ):
                    return True
    finally:
        await db.dispose()
    return False
