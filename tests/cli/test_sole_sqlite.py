"""One server process per SQLite file (apf_core/storage/exclusive.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apf_core.storage.db import sqlite_url
from apf_core.storage.exclusive import DatabaseInUse, sole_sqlite_server, sqlite_path


def test_second_holder_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data" / "apf.db")
    with sole_sqlite_server(url):
        with pytest.raises(DatabaseInUse) as refused, sole_sqlite_server(url):
            pass
        message = str(refused.value)
        assert str(tmp_path / "data" / "apf.db") in message and "APF_DATABASE_URL" in message
        assert (tmp_path / "data" / "apf.db.lock").exists()
    with sole_sqlite_server(url):  # released on exit
        pass


def test_other_files_and_postgresql_are_not_locked(tmp_path: Path) -> None:
    with sole_sqlite_server(sqlite_url(tmp_path / "a.db")), sole_sqlite_server(
        sqlite_url(tmp_path / "b.db")
    ):
        pg = "postgresql://apf@127.0.0.1/apf"
        assert sqlite_path(pg) is None
        with sole_sqlite_server(pg), sole_sqlite_server(pg):
            pass
