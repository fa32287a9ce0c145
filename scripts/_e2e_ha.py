"""Processes for scripts/ha_e2e.py: the real farm server, a real hass, and the report."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

TODAY_HARNESS = "0.13.375"
CHROOT_CERTS = "/etc/ssl/certs/ca-certificates.crt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Report:
    """Checks with their measured figures; printed at the end."""

    version: str
    rows: list[tuple[bool, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(passed for passed, _name, _figure in self.rows)

    def check(self, name: str, passed: bool, figure: str) -> None:
        self.rows.append((passed, name, figure))

    def fail(self, message: str) -> None:
        self.check("run", False, message)

    def print(self) -> None:
        print(f"\nReal Home Assistant {self.version} end to end:")
        for passed, name, figure in self.rows:
            print(f"  {'ok  ' if passed else 'FAIL'} {name}: {figure}")
        print(f"  => {'PASSED' if self.ok else 'FAILED'}", flush=True)


@dataclass
class HassRuntime:
    """How to run ``hass`` of one version: a venv on this machine or inside the forky root."""

    VERSIONS = ("2025.4.4", "2026.10.4")

    version: str
    hass: str = ""
    chroot: str | None = None  # the root hass runs in (paths below are inside it)
    skip_reason: str | None = None

    @classmethod
    def for_version(cls, version: str, clone: Path) -> HassRuntime:
        if version == "2025.4.4":
            venv = Path(os.environ.get("APF_VENV", clone / ".venv"))
            if _venv_ha_version(venv / "bin" / "python") != version:
                return cls(version, skip_reason=f"{venv} has no Home Assistant {version}")
            return cls(version, hass=str(venv / "bin" / "hass"))
        return cls._today(version, clone)

    @classmethod
    def _today(cls, version: str, clone: Path) -> HassRuntime:
        """The venv scripts/ha_today.sh caches (built here if it is missing)."""
        found = subprocess.run(
            ["bash", "scripts/py314_root.sh"], cwd=clone, capture_output=True, text=True
        )
        if found.returncode != 0:
            reason = found.stderr.strip().splitlines()[-1:] or ["no Python >= 3.14.2"]
            return cls(version, skip_reason=f"Python >= 3.14.2 cannot be made here: {reason[0]}")
        py314 = found.stdout.strip().splitlines()[-1]
        ready = f".apf-ready-{TODAY_HARNESS}"
        if py314.startswith("chroot:"):
            root = py314.removeprefix("chroot:")
            venv_inside = f"/opt/ha-{version}"
            marker = Path(root + venv_inside) / ready
            runtime = cls(version, hass=f"{venv_inside}/bin/hass", chroot=root)
        else:
            cache = subprocess.run(
                ["bash", "-c", ". scripts/_cache.sh; apf_cache_dir"],
                cwd=clone,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            marker = Path(cache) / f"ha-{version}" / ready
            runtime = cls(version, hass=str(marker.parent / "bin" / "hass"))
        if not marker.exists() and not (clone / "scripts" / "ha_today.sh").exists():
            return cls(version, skip_reason=f"no venv at {marker.parent} and no ha_today.sh")
        if not marker.exists():
            print(f"building the Home Assistant {version} venv (scripts/ha_today.sh)", flush=True)
            subprocess.run(
                ["bash", "scripts/ha_today.sh", "--collect-only", "-q", "tests/ha/test_compat.py"],
                cwd=clone,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        return runtime

    def make_workdir(self) -> Path:
        """A fresh directory hass can see (inside the root when it runs there)."""
        base = Path(self.chroot, "tmp") if self.chroot else None
        return Path(tempfile.mkdtemp(prefix="apf-ha-e2e-", dir=base))

    def inside(self, path: Path) -> str:
        """``path`` as hass sees it."""
        return "/" + str(path.relative_to(self.chroot)) if self.chroot else str(path)

    def command(self, config_dir: Path) -> list[str]:
        hass = [self.hass, "-c", self.inside(config_dir)]
        if not self.chroot:
            return hass
        env = ["HOME=/root", f"SSL_CERT_FILE={CHROOT_CERTS}", "UV_NATIVE_TLS=1"]
        return ["chroot", self.chroot, "env", *env, *hass]


def _venv_ha_version(python: Path) -> str | None:
    if not python.exists():
        return None
    found = subprocess.run(
        [str(python), "-c", "import homeassistant.const as c; print(c.__version__)"],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() or None


CONFIGURATION = """\
homeassistant:
  name: APF end to end
  time_zone: UTC
  unit_system: metric
  country: DE
http:
  server_port: {port}
api:
config:
onboarding:
websocket_api:
conversation:
"""


class HassProcess:
    """A real hass with a fresh config dir holding only the integration's folder."""

    def __init__(self, runtime: HassRuntime, config_dir: Path, port: int) -> None:
        self.runtime = runtime
        self.config_dir = config_dir
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = config_dir.parent / "hass.out"
        self.outage_from = sys.maxsize

    def install(self, integration: Path) -> None:
        """What HACS does: copy custom_components/<domain>/ and nothing else."""
        target = self.config_dir / "custom_components" / integration.name
        target.parent.mkdir(parents=True)
        shutil.copytree(integration, target, ignore=shutil.ignore_patterns("__pycache__"))
        (self.config_dir / "configuration.yaml").write_text(CONFIGURATION.format(port=self.port))

    async def start(self, timeout: float = 240.0) -> None:
        self.proc = self._spawn()
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"hass exited with {self.proc.returncode}")
                try:
                    async with session.get(f"{self.url}/api/onboarding") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        raise RuntimeError(f"hass did not answer within {timeout:.0f} s")

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("wb") as log:
            return subprocess.Popen(
                self.runtime.command(self.config_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, 60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)

    def _log_text(self) -> str:
        path = self.config_dir / "home-assistant.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        out = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join((out + self._log_text()).splitlines()[-lines:])

    def integration_log_lines(self) -> str:
        return "\n".join(self._bad_lines())

    def mark_outage(self) -> None:
        """From here on, errors about the unreachable server are expected."""
        self.outage_from = len(self._log_text().splitlines())

    def _bad_lines(self) -> list[str]:
        error = re.compile(r"(ERROR|CRITICAL).*autoprintfarm")
        deprecation = re.compile(r"Detected .*autoprintfarm|autoprintfarm.*(deprecat|report_usage)")
        lines = self._log_text().splitlines()
        return [
            line
            for number, line in enumerate(lines)
            if deprecation.search(line) or (number < self.outage_from and error.search(line))
        ]

    def no_integration_errors(self) -> bool:
        return not self._bad_lines()


class FarmProcess:
    """``apf serve --demo`` on its own port and data dir; can be killed and started again."""

    def __init__(self, clone: Path, data_dir: Path, port: int) -> None:
        self.clone = clone
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.api_key = ""
        self.proc: subprocess.Popen[str] | None = None

    async def start(self, timeout: float = 60.0) -> None:
        apf = Path(sys.executable).parent / "apf"
        command = [str(apf), "serve", "--demo", "--data-dir", str(self.data_dir)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--no-zeroconf"]
        self.proc = self._spawn(command)
        await asyncio.wait_for(asyncio.to_thread(self._read_until_listening), timeout)

    @staticmethod
    def _spawn(command: list[str]) -> subprocess.Popen[str]:
        env = {**os.environ, "APF_AUTO_DISPATCH": "0"}
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )

    def _read_until_listening(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip().startswith("apf_"):
                self.api_key = line.strip()
            if "listening on" in line:
                return
        raise RuntimeError(f"apf serve exited with {self.proc.wait()}")

    async def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                await self.kill()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, f"{self.url}/public/v1{path}", json=body, headers=headers
            ) as resp,
        ):
            payload = await resp.json()
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: {resp.status} {payload}")
            return payload["data"]

    async def printers(self) -> list[dict[str, Any]]:
        return list(await self._call("GET", "/printers"))

    async def status(self, printer_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"/printers/{printer_id}/status"))

    async def ensure_printing(self, printer_id: str) -> None:
        """Start a job on the printer unless it prints already (a paused one is resumed)."""
        state = (await self.status(printer_id))["status"]
        if state == "printing":
            return
        if state == "paused":
            await self._call("POST", f"/printers/{printer_id}/control", {"action": "resume"})
        else:
            if (await self.status(printer_id)).get("bed_clear_required"):
                body = {"action": "clear_bed", "result": "success"}
                await self._call("POST", f"/printers/{printer_id}/control", body)
            jobs = await self._call("GET", "/jobs")
            body = {"print_file_id": jobs[0]["print_file_id"], "printer_id": printer_id}
            job = await self._call("POST", "/jobs", body)
            await self._call("POST", f"/jobs/{job['id']}/start")
        for _ in range(100):
            if (await self.status(printer_id))["status"] == "printing":
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"printer {printer_id} did not start printing")
