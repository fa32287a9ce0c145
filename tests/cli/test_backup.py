"""apf backup / restore: an online snapshot restored into a fresh data directory is the same farm."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, text

from apf_core.backup import BackupError, backup, restore
from apf_core.config import Settings
from apf_core.storage.db import Database, sqlite_url
from apf_core.storage.tables import load_all
from apf_core.testing import running_farm
from tests.files.bgcode_samples import prusa_bgcode


async def table_counts(db: Database) -> dict[str, int]:
    counts = {}
    async with db.read() as conn:
        for table in load_all().sorted_tables:
            counts[table.name] = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    return counts


def file_digests(data_dir: Path) -> dict[str, str]:
    return {
        p.relative_to(data_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in data_dir.rglob("*")
        if p.is_file() and p.name not in ("apf.db", "apf.db-wal", "apf.db-shm")
        and ".incoming" not in p.parts and ".claimed" not in p.parts
    }


async def test_backup_while_running_then_restore_into_a_fresh_dir(
    tmp_path: Path, database: Database, demo_templates: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APF_AUTO_DISPATCH", "0")
    data, fresh, archives = tmp_path / "data", tmp_path / "fresh", tmp_path / "archives"
    archives.mkdir()
    schema, url = database.schema, database.url
    await demo_templates.restore(database, data)
    async with running_farm(data, demo=True, db=database) as server:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {server.api_key}"}) as http:
            form = aiohttp.FormData()
            form.add_field("file", prusa_bgcode(), filename="kept.bgcode")
            async with http.post(f"{server.api}/files", data=form) as resp:
                assert resp.status == 201
                file_id = (await resp.json())["data"]["id"]
        server_id = server.farm.server_id
        key = server.api_key
        source = Settings(data_dir=data, database_url=url)
        summary = await asyncio.to_thread(backup, source, archives, schema=schema)
        counts = await table_counts(server.farm.db)
        files = file_digests(data)
    assert summary.path.parent == archives and summary.path.name.startswith("apf-backup-")
    assert summary.path.stat().st_mode & 0o077 == 0  # key hashes and the vault key inside
    assert counts["jobs"] > 0 and counts["print_files"] > 0 and counts["api_keys"] > 0

    if schema:  # PostgreSQL: the fresh target is an empty schema
        async with database.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        target = Settings(data_dir=fresh, database_url=url)
    else:
        target = Settings(data_dir=fresh)
    await database.dispose()
    await asyncio.to_thread(restore, target, summary.path, schema=schema)

    restored = Database(target.db_url, schema=schema)
    try:
        assert await table_counts(restored) == counts
        assert file_digests(fresh) == files
        async with running_farm(fresh, demo=False, db=restored) as again:
            assert again.farm.server_id == server_id
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
                async with http.get(f"{again.api}/files/{file_id}/download") as resp:
                    assert resp.status == 200 and await resp.read() == prusa_bgcode()
    finally:
        await restored.dispose()
    with pytest.raises(BackupError, match="already holds a farm"):
        await asyncio.to_thread(restore, target, summary.path, schema=schema)


def test_cli_backup_restore_and_refusals(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("APF_DATA_DIR", "APF_DATABASE_URL")}

    def apf(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "apf_core.cli", *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )

    farm, fresh = tmp_path / "farm", tmp_path / "fresh"
    made = apf("keys", "create", "--name", "ops", "--data-dir", str(farm))
    assert made.returncode == 0, made.stderr
    archive = tmp_path / "farm.tar.gz"
    done = apf("backup", str(archive), "--data-dir", str(farm))
    assert done.returncode == 0 and str(archive) in done.stdout, done.stderr
    back = apf("restore", str(archive), "--data-dir", str(fresh))
    assert back.returncode == 0, back.stderr
    assert "ops" in apf("keys", "list", "--data-dir", str(fresh)).stdout
    again = apf("restore", str(archive), "--data-dir", str(fresh))
    assert again.returncode == 2 and "already holds a farm" in again.stderr
    assert "Traceback" not in again.stderr
    forced = apf("restore", str(archive), "--data-dir", str(fresh), "--force")
    assert forced.returncode == 0, forced.stderr
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    bad = apf("restore", str(junk), "--data-dir", str(tmp_path / "other"))
    assert bad.returncode == 2 and "not a usable APF backup" in bad.stderr
    missing = apf("backup", str(tmp_path / "x.tar.gz"), "--data-dir", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "no database" in missing.stderr


def test_sqlite_archive_refuses_a_postgresql_target(tmp_path: Path) -> None:
    asyncio.run(_migrate(tmp_path / "a"))
    summary = backup(Settings(data_dir=tmp_path / "a"), tmp_path / "a.tar.gz")
    target = Settings(data_dir=tmp_path / "b", database_url="postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(BackupError, match="holds a sqlite database"):
        restore(target, summary.path)


async def _migrate(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    db = Database(sqlite_url(data_dir / "apf.db"))
    await db.migrate()
    await db.dispose()
