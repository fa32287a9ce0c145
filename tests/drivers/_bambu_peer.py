"""A fake Bambu Lab printer in LAN mode (printer-protocols.md section 3.8).

* a real mosquitto broker with a TLS listener and a password file (user ``bblp``),
  started as its own process on a free port;
* :class:`FakePrinter`, a paho-mqtt client that plays the printer: it answers
  requests on ``device/<serial>/request`` with replies echoing ``sequence_id``,
  publishes full ``push_status`` reports on ``pushall`` and deltas afterwards,
  and runs IDLE -> PREPARE -> RUNNING <-> PAUSE -> FINISH / FAILED;
* an implicit-FTPS server (pyftpdlib) that stores uploads.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
SERIAL = "01P00A000000001"
ACCESS_CODE = "12345678"
CANCELLED_ERROR = 50348044


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_reason() -> str | None:
    """Why the fake printer cannot run here, or None."""
    if not Path(MOSQUITTO).exists():
        return "mosquitto is not installed (apt-get install mosquitto)"
    if not Path(MOSQUITTO_PASSWD).exists():
        return "mosquitto_passwd is not installed (apt-get install mosquitto)"
    if shutil.which("openssl") is None:
        return "openssl is not installed"
    try:
        import OpenSSL  # noqa: F401
        import pyftpdlib  # noqa: F401
    except ImportError:
        return "pyftpdlib and pyopenssl are needed for the fake printer's FTPS server"
    return None


def make_certificate(directory: Path, common_name: str = SERIAL) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            f"/CN={common_name}",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class Broker:
    """mosquitto with a TLS listener; ``stop``/``start`` keep the same port."""

    directory: Path
    cert: Path
    key: Path
    access_code: str = ACCESS_CODE
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def configure(self) -> None:
        passwd = self.directory / "passwd"
        subprocess.run(
            [MOSQUITTO_PASSWD, "-b", "-c", str(passwd), "bblp", self.access_code],
            check=True,
            capture_output=True,
        )
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"certfile {self.cert}",
            f"keyfile {self.key}",
            "allow_anonymous false",
            f"password_file {passwd}",
            "persistence false",
            "log_dest stdout",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise mosquitto drops to a user that cannot read tmp
        (self.directory / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self, timeout: float = 10.0) -> None:
        log = (self.directory / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.directory / "mosquitto.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited; see {self.directory / 'mosquitto.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        self.process = None


@dataclass
class FtpQuirks:
    """How the fake printer's FTPS server misbehaves, like real ones do."""

    late_226_s: float = 0.0  # H2D: the final 226 comes long after the data
    refuse_tls13: bool = False  # P2S: 426 on a TLS 1.3 session
    rate_bytes_s: float = 0.0  # A1: about 75 KB/s (0: as fast as loopback goes)
    stores: int = 0


def _implicit_ftps_handler(quirks: FtpQuirks) -> type:
    from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

    class SlowDTPHandler(TLS_DTPHandler):  # type: ignore[misc]
        def recv(self, buffer_size: int) -> bytes:
            data: bytes = super().recv(min(buffer_size, 16384))
            if quirks.rate_bytes_s and data:
                time.sleep(len(data) / quirks.rate_bytes_s)  # the fake serves one client
            return data

    class ImplicitTLSHandler(TLS_FTPHandler):  # type: ignore[misc]
        """TLS from the first byte, like the printer on port 990."""

        def handle(self) -> None:
            self.secure_connection(self.ssl_context)
            super().handle()

        dtp_handler = SlowDTPHandler

        def respond(self, resp: str, *args: Any, **kwargs: Any) -> None:
            if not resp.startswith("226"):
                super().respond(resp, *args, **kwargs)
                return
            quirks.stores += 1
            version = self.socket.get_protocol_version_name()
            if quirks.refuse_tls13 and version == "TLSv1.3":
                super().respond("426 Failure reading network stream.", *args, **kwargs)
            elif quirks.late_226_s:
                self.ioloop.call_later(quirks.late_226_s, super().respond, resp, *args, **kwargs)
            else:
                super().respond(resp, *args, **kwargs)

        def ftp_AUTH(self, line: str) -> None:  # pyftpdlib's command naming
            self.respond("503 Already secured (implicit TLS).")

    return ImplicitTLSHandler


class FtpsServer:
    """pyftpdlib implicit FTPS in a background thread."""

    def __init__(self, root: Path, cert: Path, key: Path, access_code: str = ACCESS_CODE) -> None:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.servers import FTPServer

        authorizer = DummyAuthorizer()
        authorizer.add_user("bblp", access_code, str(root), perm="elradfmwMT")
        self.quirks = FtpQuirks()
        handler = _implicit_ftps_handler(self.quirks)
        handler.certfile = str(cert)
        handler.keyfile = str(key)
        handler.authorizer = authorizer
        handler.passive_ports = None
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        self.root = root
        self.server = FTPServer(("127.0.0.1", 0), handler)
        self.port = int(self.server.socket.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-ftps", daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self.server.ioloop.loop(timeout=0.05, blocking=False)
        self.server.close_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    """A documented report shape from ``fixtures/`` (see its README for the sources)."""
    return json.loads((FIXTURES / name).read_text())


def initial_report() -> dict[str, Any]:
    """A P1S's full ``push_status`` as documented (fixtures/bambu/push_status_p1s.json)."""
    report: dict[str, Any] = fixture("bambu/push_status_p1s.json")
    return report


def h2d_report() -> dict[str, Any]:
    """An H2D's: two extruders, packed ``target << 16 | current`` temperatures, ``vir_slot``."""
    report: dict[str, Any] = fixture("bambu/push_status_h2d.json")
    return report


def x1c_report() -> dict[str, Any]:
    """An X1C's: the ``device`` section, ``vir_slot`` and two AMS units."""
    report: dict[str, Any] = fixture("bambu/push_status_x1c.json")
    return report


MODEL_REPORTS = {"H2D": h2d_report, "X1C": x1c_report}
#: ``get_version`` ``module[0].product_name`` as the printers send it
PRODUCT_NAMES = {"X1C": "Bambu Lab X1-Carbon", "A1MINI": "Bambu Lab A1 mini"}


class FakePrinter:
    """The printer side of the MQTT conversation, with a small print state machine."""

    def __init__(
        self,
        broker_port: int,
        files: Path,
        serial: str = SERIAL,
        access_code: str = ACCESS_CODE,
        tick: float = 0.1,
        step: float = 2.0,
        model: str = "P1S",
        developer_mode: bool = True,
        bare_acks: bool = False,
        ams: bool = True,
    ) -> None:
        self.serial = serial
        self.files = files
        self.tick = tick
        self.step = step  # percent per tick while RUNNING
        self.model = model
        #: without Developer mode (2025+ firmware) these requests are dropped without a reply
        self.developer_mode = developer_mode
        #: some firmware answers ``{command, sequence_id}`` without ``result``
        self.bare_acks = bare_acks
        self.report = MODEL_REPORTS.get(model, initial_report)()
        if not ams:  # a P1 without AMS sends an empty unit list
            self.report["ams"].update(ams=[], ams_exist_bits="0", tray_exist_bits="0")
        self.requests: list[dict[str, Any]] = []
        self.mute = False  # ignore requests (for timeout tests)
        self.refuse: set[str] = set()  # commands answered with result "failed"
        self.pushall_count = 0
        self._lock = threading.RLock()
        self._sequence = 1000
        self._prepare_ticks = 0
        self._percent = 0.0  # mc_percent is an int on the wire
        self._stop = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fake-{serial}")
        self._client.username_pw_set("bblp", access_code)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self._client.tls_set_context(context)
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._broker_port = broker_port
        self._ready = threading.Event()
        self._ticker = threading.Thread(target=self._run_ticks, name="fake-printer", daemon=True)

    # --- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self._client.connect_async("127.0.0.1", self._broker_port, keepalive=10)
        self._client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("fake printer could not connect to the broker")
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self._client.disconnect()
        self._client.loop_stop()
        if self._ticker.is_alive():
            self._ticker.join(5)

    def wait_connected(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._client.is_connected():
            if time.monotonic() > deadline:
                raise RuntimeError("fake printer did not reconnect")
            time.sleep(0.05)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe(f"device/{self.serial}/request", qos=1)
            self._ready.set()

    # --- publishing --------------------------------------------------------------
    def _next_sequence(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    def _publish(self, payload: dict[str, Any]) -> None:
        self._client.publish(f"device/{self.serial}/report", json.dumps(payload), qos=1)

    def push_full(self) -> None:
        with self._lock:
            body = copy.deepcopy(self.report) | {"sequence_id": self._next_sequence(), "msg": 0}
        self._publish({"print": body})

    def publish_raw(self, payload: bytes) -> None:
        self._client.publish(f"device/{self.serial}/report", payload, qos=1)

    def push_delta(self, **changes: Any) -> None:
        """Apply ``changes`` to the printer and publish only them (as P1/A1 printers do)."""
        with self._lock:
            _merge(self.report, changes)
            body = {"command": "push_status", "msg": 1, "sequence_id": self._next_sequence()}
        self._publish({"print": body | copy.deepcopy(changes)})

    def _reply(
        self, kind: str, request: dict[str, Any], result: str = "success", reason: str = ""
    ) -> None:
        """The request echoed with ``result``/``reason``, or the documented bare ack."""
        if self.bare_acks:
            ack = fixture("bambu/replies.json")["bare_ack"]["print"]
            ack.update(command=request.get("command"), sequence_id=request.get("sequence_id"))
            self._publish({kind: ack})
            return
        self._publish({kind: request | {"result": result, "reason": reason}})

    # --- requests --------------------------------------------------------------------
    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        with self._lock:
            self.requests.append(payload)
        if self.mute:
            return
        dropped = ("project_file", "gcode_line", "ams_change_filament")
        if not self.developer_mode and any(
            isinstance(r, dict) and r.get("command") in dropped for r in payload.values()
        ):
            return
        for kind, request in payload.items():
            if isinstance(request, dict):
                self._handle(kind, request)

    def _handle(self, kind: str, request: dict[str, Any]) -> None:
        command = request.get("command")
        if kind == "pushing" and command == "pushall":
            self.pushall_count += 1
            self.push_full()
            return
        if kind == "info" and command == "get_version":
            reply = fixture("bambu/replies.json")["get_version"]["info"]
            ota = reply["module"][0]
            ota.update(
                sn=self.serial,
                product_name=PRODUCT_NAMES.get(self.model, f"Bambu Lab {self.model}"),
            )
            self._publish({"info": reply | {"sequence_id": request.get("sequence_id")}})
            return
        if command in self.refuse:
            self._reply(kind, request, "failed", "refused by test")
            return
        handler: Callable[[dict[str, Any]], str | None] | None = getattr(
            self, f"_cmd_{command}", None
        )
        if handler is None:
            self._reply(kind, request, "failed", f"unsupported command {command}")
            return
        error = handler(request)
        self._reply(kind, request, "failed" if error else "success", error or "")

    def _state(self) -> str:
        return str(self.report["gcode_state"])

    def _cmd_project_file(self, request: dict[str, Any]) -> str | None:
        url = str(request.get("url", ""))
        name = url.rsplit("/", 1)[-1]
        prefix = "ftp:///" if self.model.startswith("H2") else "file:///sdcard/"
        if not url.startswith(prefix) or not (self.files / name).is_file():
            return f"file not found: {url}"
        if not str(request.get("param", "")).startswith("Metadata/plate_"):
            return "bad plate"
        units = self.report.get("ams", {}).get("ams") or []
        if request.get("use_ams") and not units:
            return "use_ams without AMS"
        error = self._start_job(request.get("subtask_name") or name, name)
        loaded = {
            int(u["id"]) * 4 + int(t["id"])
            for u in units
            for t in u.get("tray", [])
            if t.get("tray_type")
        }
        mapping = [int(t) for t in request.get("ams_mapping") or [] if int(t) >= 0]
        if error is None and request.get("use_ams") and not set(mapping) <= loaded:
            # like the real printer: it pauses at once with a runout HMS and never starts
            self._prepare_ticks = 10**9
            self.push_delta(gcode_state="PAUSE", hms=fixture("bambu/hms.json")["runout"])
        return error

    def _cmd_gcode_file(self, request: dict[str, Any]) -> str | None:
        name = str(request.get("param", "")).rsplit("/", 1)[-1]
        if not (self.files / name).is_file():
            return f"file not found: {name}"
        return self._start_job(name, name)

    def _start_job(self, subtask: str, gcode_file: str) -> str | None:
        if self._state() in ("RUNNING", "PAUSE", "PREPARE"):
            return "printer busy"
        self._prepare_ticks = 3
        self._percent = 0.0
        self.push_delta(
            gcode_state="PREPARE",
            print_error=0,
            mc_percent=0,
            mc_remaining_time=10,
            layer_num=0,
            total_layer_num=50,
            subtask_name=subtask,
            gcode_file=gcode_file,
            print_type="local",
            nozzle_target_temper=220.0,
            bed_target_temper=60.0,
        )
        return None

    def _cmd_pause(self, _request: dict[str, Any]) -> str | None:
        if self._state() != "RUNNING":
            return "not printing"
        self.push_delta(gcode_state="PAUSE", stg_cur=16)
        return None

    def _cmd_resume(self, _request: dict[str, Any]) -> str | None:
        if self._state() != "PAUSE":
            return "not paused"
        self.push_delta(gcode_state="RUNNING", stg_cur=0)
        return None

    def _cmd_stop(self, _request: dict[str, Any]) -> str | None:
        if self._state() not in ("RUNNING", "PAUSE", "PREPARE"):
            return "nothing to stop"
        self.push_delta(
            gcode_state="FAILED",
            print_error=CANCELLED_ERROR,
            nozzle_target_temper=0.0,
            bed_target_temper=0.0,
        )
        return None

    def _cmd_gcode_line(self, request: dict[str, Any]) -> str | None:
        changes: dict[str, Any] = {}
        for line in str(request.get("param", "")).splitlines():
            words = line.split()
            if not words:
                continue
            value = next((float(w[1:]) for w in words[1:] if w.startswith("S")), None)
            if words[0] == "M104" and value is not None:
                changes["nozzle_target_temper"] = value
            elif words[0] == "M140" and value is not None:
                changes["bed_target_temper"] = value
            elif words[0] == "G28":
                changes["home_flag"] = int(self.report.get("home_flag", 0)) | 0x7
        if changes:
            self.push_delta(**changes)
        return None

    def _cmd_ledctrl(self, request: dict[str, Any]) -> str | None:
        mode, node = request.get("led_mode"), request.get("led_node")
        nodes = ("chamber_light", "chamber_light2") if self.model.startswith("H2") else ()
        if node not in (nodes or ("chamber_light",)) or mode not in ("on", "off", "flashing"):
            return "bad light"
        lights = [dict(light) for light in self.report["lights_report"]]
        lights = [light for light in lights if light["node"] != node] + [
            {"node": node, "mode": mode}
        ]
        self.push_delta(lights_report=lights)
        return None

    def _cmd_print_speed(self, request: dict[str, Any]) -> str | None:
        level = int(request.get("param", 0))
        if not 1 <= level <= 4:
            return "bad speed level"
        self.push_delta(spd_lvl=level, spd_mag=[50, 100, 124, 166][level - 1])
        return None

    def push_ams_unit(self, unit: dict[str, Any], **ams_fields: Any) -> None:
        """A P1/A1/H2D-style delta naming one AMS unit only (the others are not repeated)."""
        with self._lock:
            units = self.report["ams"].setdefault("ams", [])
            for index, known in enumerate(units):
                if known.get("id") == unit.get("id"):
                    units[index] = _merged(known, unit)
                    break
            else:
                units.append(copy.deepcopy(unit))
            self.report["ams"].update(ams_fields)
            body = {"command": "push_status", "msg": 1, "sequence_id": self._next_sequence()}
        self._publish({"print": body | {"ams": {"ams": [unit], **ams_fields}}})

    def _cmd_ams_change_filament(self, request: dict[str, Any]) -> str | None:
        target = int(request.get("target", -1))
        if target == 255:
            self.push_delta(ams={"tray_now": "255", "tray_tar": "255"})
        elif 0 <= target < 4 or target in (128, 254):
            self.push_delta(ams={"tray_now": str(target), "tray_tar": str(target)})
        else:
            return "no such tray"
        return None

    # --- progress ---------------------------------------------------------------------
    def _run_ticks(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                state = self._state()
                if state == "PREPARE":
                    self._prepare_ticks -= 1
                    if self._prepare_ticks <= 0:
                        self.push_delta(gcode_state="RUNNING", stg_cur=0, layer_num=1)
                elif state == "RUNNING":
                    self._percent = percent = min(100.0, self._percent + self.step)
                    if percent >= 100:
                        self.push_delta(
                            gcode_state="FINISH",
                            mc_percent=100,
                            mc_remaining_time=0,
                            layer_num=50,
                            nozzle_target_temper=0.0,
                            bed_target_temper=0.0,
                        )
                    else:
                        self.push_delta(
                            mc_percent=int(percent),
                            mc_remaining_time=int((100 - percent) / 10),
                            layer_num=max(1, int(percent / 2)),
                            nozzle_temper=round(min(220.0, 24.5 + percent * 4), 1),
                        )


def _merged(known: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    trays = {t["id"]: t for t in known.get("tray", [])}
    for tray in delta.get("tray", []):
        trays[tray["id"]] = trays.get(tray["id"], {}) | tray
    return known | {k: v for k, v in delta.items() if k != "tray"} | {"tray": list(trays.values())}


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@dataclass
class BambuPeer:
    """Broker, fake printer and FTPS server together."""

    directory: Path
    broker: Broker
    printer: FakePrinter
    ftps: FtpsServer

    @classmethod
    def start(cls, directory: Path, **printer_options: Any) -> BambuPeer:
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = make_certificate(directory)
        broker = Broker(directory, cert, key)
        broker.configure()
        broker.start()
        files = directory / "sdcard"
        files.mkdir()
        ftps = FtpsServer(files, cert, key)
        ftps.start()
        printer = FakePrinter(broker.port, files, **printer_options)
        printer.start()
        return cls(directory, broker, printer, ftps)

    def stop(self) -> None:
        self.printer.stop()
        self.ftps.stop()
        self.broker.stop()

    def options(self, **overrides: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "serial": self.printer.serial,
            "access_code": ACCESS_CODE,
            "port": self.broker.port,
            "ftp_port": self.ftps.port,
        } | overrides


def make_project(
    path: Path,
    filaments: tuple[tuple[int, str, str], ...] = ((1, "PLA", "#FF0000"),),
    plates: tuple[int, ...] = (1,),
    gcode_bytes: int = 100_000,
) -> Path:
    """A sliced Bambu 3MF: plate G-code plus slice_info.config naming each plate's filaments."""
    import zipfile

    rows = "".join(
        f'<filament id="{i}" tray_info_idx="GFA00" type="{kind}" color="{color}" '
        f'used_m="1.0" used_g="3.0"/>'
        for i, kind, color in filaments
    )
    info = (
        "<config>"
        + "".join(f'<plate><metadata key="index" value="{n}"/>{rows}</plate>' for n in plates)
        + "</config>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Metadata/slice_info.config", info)
        for n in plates:
            archive.writestr(f"Metadata/plate_{n}.gcode", ("G1 X1 Y1\n" * (gcode_bytes // 9)))
    return path


class FakeCamera:
    """The P1/A1 JPEG stream on TLS port 6000 (OpenBambuAPI video.md): checks the login."""

    JPEG = b"\xff\xd8\xff\xe0" + b"fake-jpeg" * 10 + b"\xff\xd9"

    def __init__(self, cert: Path, key: Path, access_code: str = ACCESS_CODE) -> None:
        self.access_code = access_code
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._context = context
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self.logins: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-camera", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._sock.accept()
            except TimeoutError:
                continue
            try:
                with self._context.wrap_socket(raw, server_side=True) as conn:
                    conn.settimeout(5)
                    login = b""
                    while len(login) < 80:
                        chunk = conn.recv(80 - len(login))
                        if not chunk:
                            break
                        login += chunk
                    self.logins.append(login)
                    code = login[48:80].rstrip(b"\0").decode(errors="replace")
                    if login[16:20] != b"bblp" or code != self.access_code:
                        continue  # the real printer just closes the connection
                    header = len(self.JPEG).to_bytes(4, "little") + bytes(4)
                    header += (1).to_bytes(4, "little") + bytes(4)
                    conn.sendall(header + self.JPEG)
            except (OSError, ssl.SSLError):
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()
