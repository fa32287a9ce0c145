"""A calm command line: one data directory rule, one-line errors, no migration chatter."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apf_core.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("APF_DATA_DIR", "XDG_DATA_HOME")}
    root = str(Path(__file__).resolve().parents[2])
    env.update(HOME=str(home), PYTHONPATH=root, **extra)
    return env


def test_default_data_dir_is_per_user_not_the_working_directory(tmp_path: Path) -> None:
    home, here, there = tmp_path / "home", tmp_path / "a", tmp_path / "b"
    for d in (home, here, there):
        d.mkdir()
    created = run("keys", "create", "--name", "ops", env=_env(home), cwd=here)
    assert created.returncode == 0, created.stderr
    assert (home / ".local" / "share" / "apf" / "apf.db").is_file()
    assert not any(here.iterdir())
    listed = run("keys", "list", env=_env(home), cwd=there)
    assert "ops" in listed.stdout and not any(there.iterdir())
    # no alembic INFO lines without -v; they come back with it
    assert "alembic" not in created.stderr and "Context impl" not in created.stderr
    verbose = run("keys", "list", "-v", env=_env(home), cwd=there)
    assert verbose.returncode == 0 and "alembic" in verbose.stderr


def test_flag_beats_env_beats_default(tmp_path: Path) -> None:
    home, env_dir, flag_dir = tmp_path / "home", tmp_path / "env", tmp_path / "flag"
    home.mkdir()
    env = _env(home, APF_DATA_DIR=str(env_dir))
    assert run("keys", "create", "--name", "e", env=env, cwd=tmp_path).returncode == 0
    assert run("keys", "create", "--name", "f", "--data-dir", str(flag_dir), env=env, cwd=tmp_path).returncode == 0
    assert (env_dir / "apf.db").is_file() and (flag_dir / "apf.db").is_file()
    assert not (home / ".local").exists()
    assert "e" in run("keys", "list", env=env, cwd=tmp_path).stdout.split()


def test_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(
            "serve", "--no-zeroconf", "--port", str(port), "--data-dir", str(tmp_path),
            env=_env(tmp_path), cwd=tmp_path,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "already in use" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_until_listening(env: dict[str, str], cwd: Path, data_dir: Path) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "apf_core.cli", "serve", "--no-zeroconf", "--port",
         str(_free_port()), "--data-dir", str(data_dir)],
        env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "listening on" in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return "".join(lines)


def test_serve_prints_data_dir_and_how_to_make_a_key_when_none_is_usable(tmp_path: Path) -> None:
    env = _env(tmp_path)
    data = tmp_path / "farm"
    created = run("keys", "create", "--name", "old", "--data-dir", str(data), env=env, cwd=tmp_path)
    key_id = re.search(r"Created key (\S+)", created.stdout)
    assert key_id, created.stdout
    assert run("keys", "revoke", key_id.group(1), "--data-dir", str(data), env=env, cwd=tmp_path).returncode == 0
    output = _serve_until_listening(env, tmp_path, data)
    assert f"Data directory: {data}" in output
    assert "No usable API key" in output and "apf keys create" in output
    assert str(data) in output.split("apf keys create", 1)[1]
    assert "apf_live_" not in output  # nothing minted behind the operator's back
    assert "alembic" not in output
