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
    with (
        sole_sqlite_server(sqlite_url(tmp_path / "a.db")),
        sole_sqlite_server(sqlite_url(tmp_path / "b.db")),
    ):
        pg = "postgresql://apf@127.0.0.1/apf"
        assert sqlite_path(pg) is None
        with sole_sqlite_server(pg), sole_sqlite_server(pg):
            pass


def test_second_apf_serve_on_one_sqlite_file_exits_and_the_first_keeps_leading(
    tmp_path: Path,
) -> None:
    """Two real processes: the second says who holds the file and exits 1; the first,
    the only process of the farm, still answers as its leader."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    env = {k: v for k, v in os.environ.items() if k != "APF_DATABASE_URL"}
    serve = [sys.executable, "-m", "apf_core.cli", "serve", "--data-dir", str(tmp_path)]
    first_port = free_port()
    first = subprocess.Popen(
        [*serve, "--port", str(first_port), "--no-zeroconf"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    health = f"http://127.0.0.1:{first_port}/public/v1/health"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(health, timeout=1):
                    break
            except OSError:
                assert first.poll() is None and time.monotonic() < deadline, "first server"
                time.sleep(0.1)
        second = subprocess.run(
            [*serve, "--port", str(free_port()), "--no-zeroconf"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 1
        assert f"another APF server (pid {first.pid}) is already running" in second.stderr
        assert "Traceback" not in second.stderr
        with urllib.request.urlopen(health, timeout=2) as resp:
            assert json.loads(resp.read())["data"]["role"] == "leader"
        assert first.poll() is None
    finally:
        first.terminate()
        first.wait(15)
