"""The `apf` command, run as a real process."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path


def apf(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "APF_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "apf_core.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    created = apf(
        "keys",
        "create",
        "--name",
        "ci",
        "--scopes",
        "read,control",
        "--expires-in",
        "7",
        data_dir=tmp_path,
    )
    key = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"apf_live_[0-9a-f]{64}", key)
    listed = json.loads(apf("keys", "list", "--json", data_dir=tmp_path).stdout)
    assert len(listed) == 1 and listed[0]["scopes"] == ["read", "control"]
    assert (
        listed[0]["expires_at"]
        and key not in json.dumps(listed)
        and key[9:] not in json.dumps(listed)
    )
    assert key[:15] == listed[0]["prefix"]
    human = apf("keys", "list", data_dir=tmp_path).stdout
    assert "ci" in human and "active" in human and key not in human
    apf("keys", "revoke", listed[0]["id"], data_dir=tmp_path)
    assert "revoked" in apf("keys", "list", data_dir=tmp_path).stdout
    missing = apf("keys", "revoke", "nope", data_dir=tmp_path, check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_keys_create_rejects_unknown_scope(tmp_path: Path) -> None:
    result = apf(
        "keys", "create", "--name", "x", "--scopes", "read,admin", data_dir=tmp_path, check=False
    )
    assert result.returncode == 2 and "scopes" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_demo_prints_a_key_once_and_lists_printers(tmp_path: Path) -> None:
    import urllib.request

    port = _free_port()
    env = {**os.environ, "APF_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apf_core.cli",
            "serve",
            "--demo",
            "--no-zeroconf",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.time() + 60
        assert proc.stdout is not None
        while time.time() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "listening on" in line:
                break
        output = "".join(lines)
        assert "shown once" in output
        key = re.search(r"apf_live_[0-9a-f]{64}", output)
        assert key, output
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/public/v1/printers",
            headers={"Authorization": f"Bearer {key.group(0)}"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["success"] is True and len(body["data"]) >= 4
        # a second server on the same SQLite file is refused, the first keeps serving
        refused = subprocess.run(
            [sys.executable, "-m", "apf_core.cli", "serve", "--no-zeroconf", "--port", str(_free_port())],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert refused.returncode == 1, refused.stderr
        assert f"another APF server (pid {proc.pid})" in refused.stderr
        assert "PostgreSQL" in refused.stderr and "Traceback" not in refused.stderr
        # short read-only commands still work next to the running server
        assert len(json.loads(apf("keys", "list", "--json", data_dir=tmp_path).stdout)) == 1
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.loads(resp.read())["success"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0, "".join(lines)
    second = subprocess.run(
        [sys.executable, "-m", "apf_core.cli", "keys", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(json.loads(second.stdout)) == 1


def test_keys_expiry_name_and_states(tmp_path: Path) -> None:
    for bad in (["--expires-in", "0"], ["--expires-in", "-3"]):
        refused = apf("keys", "create", "--name", "x", "--scopes", "read", *bad, data_dir=tmp_path, check=False)
        assert refused.returncode == 2
        assert "at least 1 day" in refused.stderr
    empty = apf("keys", "create", "--name", "  ", "--scopes", "read", data_dir=tmp_path, check=False)
    assert empty.returncode == 2
    assert "name must not be empty" in empty.stderr
    apf("keys", "create", "--name", "day", "--scopes", "read", "--expires-in", "1", data_dir=tmp_path)
    apf("keys", "create", "--name", "old", "--scopes", "read", "--expires-in", "1", data_dir=tmp_path)
    apf("keys", "create", "--name", "gone", "--scopes", "read", data_dir=tmp_path)
    import sqlite3

    with sqlite3.connect(tmp_path / "apf.db") as conn:
        conn.execute("UPDATE api_keys SET expires_at = '2020-01-01 00:00:00.000000' WHERE name = 'old'")
    listed = {r["name"]: r for r in json.loads(apf("keys", "list", "--json", data_dir=tmp_path).stdout)}
    apf("keys", "revoke", listed["gone"]["id"], data_dir=tmp_path)
    states = {r["name"]: r["state"] for r in json.loads(apf("keys", "list", "--json", data_dir=tmp_path).stdout)}
    assert states == {"day": "active", "old": "expired", "gone": "revoked"}
    human = apf("keys", "list", data_dir=tmp_path).stdout
    assert "expired" in human and "revoked" in human
