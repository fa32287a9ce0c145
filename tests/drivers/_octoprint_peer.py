"""A real OctoPrint 1.11.8 with its Virtual Printer, for the driver tests.

The peer lives in its own venv (``<cache>/peers/octoprint``, see ``tests/peer_paths.py``, made by
``scripts/peers/octoprint.sh``); this module only drives it as a subprocess.
Recipe: printer-protocols.md section 1.6.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.peer_paths import peers_dir

PEER_VENV = peers_dir() / "octoprint"
OCTOPRINT_BIN = PEER_VENV / "bin" / "octoprint"
SETUP_HINT = "run scripts/peers/octoprint.sh to install the OctoPrint test peer"

USERNAME = "farm"
PASSWORD = "farmpass"

CONFIG_YAML = textwrap.dedent(
    """\
    plugins:
      virtual_printer: {enabled: true}
      tracking: {enabled: false}
      softwareupdate: {checks: {octoprint: {disabled: true}}}
      _disabled: [announcements, softwareupdate, pluginmanager, health_check, tracking,
                  discovery, errortracking, achievements, backup]
    server:
      firstRun: false
      onlineCheck: {enabled: false}
      pluginBlacklist: {enabled: false}
      seenWizards: {corewizard: 4}
    serial: {port: VIRTUAL, baudrate: 0, autoconnect: true}
    devel: {enableRateLimiter: false}
    """
)

_SET_API_KEY = textwrap.dedent(
    """\
    import sys, yaml
    path, user, key = sys.argv[1:4]
    with open(path) as handle:
        data = yaml.safe_load(handle)
    users = data.get("users", data)
    users[user]["apikey"] = key
    with open(path, "w") as handle:
        yaml.safe_dump(data, handle)
    """
)


def peer_available() -> bool:
    return OCTOPRINT_BIN.exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OctoPrintPeer:
    """A running OctoPrint server (``start`` and ``stop`` it)."""

    basedir: Path
    api_key: str = "APFTESTKEY0123456789ABCDEF012345"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        self.basedir.mkdir(parents=True, exist_ok=True)
        (self.basedir / "config.yaml").write_text(CONFIG_YAML)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        base = [str(OCTOPRINT_BIN), "--basedir", str(self.basedir)]
        if not (self.basedir / "users.yaml").exists():
            self._add_user(base, env)
        self.port = self.port or free_port()
        serve = [*base, "serve", "--iknowwhatimdoing", "--host", "127.0.0.1"]
        with (self.basedir / "serve.log").open("ab") as log:  # the child keeps its own handle
            self.process = subprocess.Popen(
                [*serve, "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env
            )
        self._wait_ready(timeout)

    def _add_user(self, base: list[str], env: dict[str, str]) -> None:
        subprocess.run(
            [*base, "user", "add", USERNAME, "--password", PASSWORD, "--admin"],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
        users_file = str(self.basedir / "users.yaml")
        python = str(PEER_VENV / "bin" / "python")
        subprocess.run(
            [python, "-c", _SET_API_KEY, users_file, USERNAME, self.api_key],
            check=True,
            timeout=60,
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"OctoPrint exited early; see {self.basedir / 'serve.log'}")
            try:
                current = self.get("/api/connection")["current"]
                if isinstance(current, dict) and current.get("state") == "Operational":
                    return
            except (OSError, http.client.HTTPException, ValueError):  # not up yet
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"OctoPrint did not become operational in {timeout}s")

    def request(self, method: str, path: str, body: object | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("X-Api-Key", self.api_key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def get(self, path: str) -> dict[str, object]:
        result = self.request("GET", path)
        assert isinstance(result, dict)
        return result

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
