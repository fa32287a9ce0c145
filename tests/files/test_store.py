"""The on-disk store: file-name rules, storage keys, capped streaming, sweeping."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from apf_core.files.store import (
    FileStore,
    PayloadTooLarge,
    filename_problem,
    parse_upload_key,
    upload_key,
)


@pytest.mark.parametrize(
    "name",
    [
        "benchy.gcode",
        "Cube PLA 0.2mm.gcode.3mf",
        "part.STL",
        "scène.obj",
        "a.amf",
        "x" * 249 + ".gcode",
    ],
)
def test_acceptable_names(name: str) -> None:
    assert filename_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "1-255"),
        ("x" * 250 + ".gcode", "1-255"),
        ("..", "single safe"),
        ("a/b.gcode", "single safe"),
        ("a\\b.gcode", "single safe"),
        ("a:b.gcode", "single safe"),
        ("tab\t.gcode", "single safe"),
        ("trailing.gcode ", "single safe"),
        ("notes.txt", "must end in"),
        ("firmware.bgcode.txt", "must end in"),
        (".gcode", "before the extension"),
        ("...3mf", "before the extension"),
    ],
)
def test_rejected_names(name: str, why: str) -> None:
    problem = filename_problem(name)
    assert problem is not None
    assert why in problem


def test_upload_keys_round_trip() -> None:
    file_id = str(uuid.uuid4())
    key = upload_key(file_id, "part.gcode")

    assert parse_upload_key(key) == (file_id, "part.gcode")
    assert parse_upload_key(f"uploads/{file_id}/../x.gcode") is None
    assert parse_upload_key("uploads/not-a-uuid/part.gcode") is None
    assert parse_upload_key(f"{file_id}/v1/part.gcode") is None
    assert parse_upload_key(f"uploads/{file_id}/part.exe") is None


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files", 100)
    with pytest.raises(ValueError, match="escapes"):
        store.path("../outside.gcode")
    assert store.path("a/b.gcode") == (tmp_path / "files" / "a" / "b.gcode").resolve()


async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def test_receive_streams_up_to_the_cap(tmp_path: Path) -> None:
    store = FileStore(tmp_path, max_bytes=10_000)

    temp, size = await store.receive(chunks(10, 1000))

    assert size == 10_000
    assert temp.read_bytes() == b"x" * 10_000


async def test_receive_over_the_cap_removes_the_temp_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path, max_bytes=10_000)

    with pytest.raises(PayloadTooLarge):
        await store.receive(chunks(11, 1000))

    assert list((tmp_path / ".incoming").iterdir()) == []


async def test_receive_failure_midway_removes_the_temp_file(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"data"
        raise ConnectionResetError("client went away")

    store = FileStore(tmp_path, max_bytes=10_000)
    with pytest.raises(ConnectionResetError):
        await store.receive(broken())

    assert list((tmp_path / ".incoming").iterdir()) == []


def test_claim_of_missing_upload(tmp_path: Path) -> None:
    store = FileStore(tmp_path, 100)

    assert store.claim(upload_key(str(uuid.uuid4()), "gone.gcode")) is None
    assert list((tmp_path / ".claimed").iterdir()) == []


def test_sweep_removes_only_old_leftovers(tmp_path: Path) -> None:
    store = FileStore(tmp_path, 100)
    old_temp = tmp_path / ".incoming" / "old.part"
    new_temp = tmp_path / ".incoming" / "new.part"
    old_claim = tmp_path / ".claimed" / "abc" / "part.gcode"
    for path in (old_temp, new_temp, old_claim):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"G28\n")
    two_days_ago = time.time() - 2 * 86400
    for path in (old_temp, old_claim.parent):
        os.utime(path, (two_days_ago, two_days_ago))

    assert store.sweep(86400) == 2

    assert not old_temp.exists()
    assert not old_claim.parent.exists()
    assert new_temp.exists()
