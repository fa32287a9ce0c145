"""Bambu Lab LAN-mode driver: MQTT over TLS for status and commands, FTPS for uploads.

See printer-protocols.md section 3. paho-mqtt runs its network loop in its own
thread; every callback is handed to the asyncio loop with
``call_soon_threadsafe`` so all driver state is touched from one thread only.
Reports are deep-merged (P1/A1 printers send deltas) and commands wait for the
reply that echoes their ``sequence_id``.

Connection options: ``host``, ``serial``, ``access_code``, ``port`` (8883),
``ftp_port`` (990), ``verify_tls`` (False: printers use self-signed
certificates), ``ca_cert`` (PEM path, used when ``verify_tls``),
``command_timeout`` (s), ``connect_timeout`` (s), ``stale_after`` (s without
any report before the printer counts as offline), ``url_scheme`` (``file``:
``file:///sdcard/<name>``, or ``ftp``), ``plate`` (1), ``use_ams`` (False),
``ams_mapping`` (list), ``chamber_heater`` (False; True on X1E/H2D).
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import itertools
import json
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .base import (
    AuthenticationFailed,
    Capability,
    CapabilityNotSupported,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PrinterDriver,
    PrinterUnreachable,
    Status,
    Tray,
)

_LOGGER = logging.getLogger(__name__)

CANCELLED_ERROR = 50348044  # 0x0300400C "cancelled by user"
EXTERNAL_SPOOL = 254
NO_TRAY = 255
GCODE_STATUS = {
    "IDLE": Status.IDLE,
    "PREPARE": Status.PREPARING,
    "SLICING": Status.PREPARING,
    "INIT": Status.PREPARING,
    "RUNNING": Status.PRINTING,
    "PAUSE": Status.PAUSED,
    "FINISH": Status.FINISHED,
    "FAILED": Status.ERROR,
    "OFFLINE": Status.OFFLINE,
    "UNKNOWN": Status.OFFLINE,
}
JOB_STATES = {"PREPARE", "SLICING", "INIT", "RUNNING", "PAUSE", "FINISH", "FAILED"}
AUTH_REASONS = {"not authorized", "bad user name or password"}


def deep_merge(target: dict[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``delta`` into ``target`` in place: dicts recursively, everything else replaced."""
    for key, value in delta.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            deep_merge(current, value)
        elif isinstance(value, Mapping):
            target[key] = deep_merge({}, value)
        else:
            target[key] = value
    return target


def hms_code(entry: Mapping[str, Any]) -> str:
    attr, code = int(entry.get("attr", 0)), int(entry.get("code", 0))
    return f"HMS_{attr >> 16:04X}_{attr & 0xFFFF:04X}_{code >> 16:04X}_{code & 0xFFFF:04X}"


def hms_severity(entry: Mapping[str, Any]) -> int:
    """1 fatal, 2 serious, 3 common, 4 info."""
    return int(entry.get("code", 0)) >> 16


def print_error_code(value: int) -> str:
    text = f"{value:08X}"
    return f"{text[:4]}_{text[4:]}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _packed_temps(packed: Any) -> tuple[float | None, float | None]:
    """Newer firmware packs ``target << 16 | current`` into one int."""
    value = _integer(packed)
    if value is None:
        return None, None
    return float(value & 0xFFFF), float(value >> 16)


def _section(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = report.get(name)
    return value if isinstance(value, Mapping) else {}


def _device_info(device: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = device.get(name)
    info = section.get("info") if isinstance(section, Mapping) else None
    return info if isinstance(info, Mapping) else {}


def _tray(tray_id: int, data: Mapping[str, Any]) -> Tray:
    color = data.get("tray_color")
    remain = _number(data.get("remain"))
    return Tray(
        tray_id=tray_id,
        filament_type=str(data["tray_type"]) if data.get("tray_type") else None,
        color_hex=f"#{color[:6].upper()}" if isinstance(color, str) and len(color) >= 6 else None,
        remaining_percent=remain if remain is not None and remain >= 0 else None,
    )


class ImplicitFTPS(ftplib.FTP_TLS):
    """FTP over implicit TLS (port 990) that reuses the TLS session on the data channel."""

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(context=context, timeout=timeout)
        self._sock: socket.socket | None = None

    @property
    def sock(self) -> socket.socket | None:  # type: ignore[override]
        return self._sock

    @sock.setter
    def sock(self, value: socket.socket | None) -> None:
        if value is not None and not isinstance(value, ssl.SSLSocket):
            value = self.context.wrap_socket(value, server_hostname=self.host)
        self._sock = value

    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 - wrapped in TLS below
        if self._prot_p:  # type: ignore[attr-defined]
            session = self.sock.session if isinstance(self.sock, ssl.SSLSocket) else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


class BambuDriver(PrinterDriver):
    protocol = "bambu"
    capabilities = frozenset(
        {
            Capability.LIGHT,
            Capability.AMS,
            Capability.FILAMENT_LOAD,
            Capability.HOME,
            Capability.GCODE,
            Capability.HEATERS,
            Capability.PAUSE_RESUME,
        }
    )

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        options = config.options
        missing = [name for name in ("host", "serial", "access_code") if not options.get(name)]
        if missing:
            raise ValueError(f"bambu connection needs: {', '.join(missing)}")
        self._host = str(options["host"])
        self._serial = str(options["serial"])
        self._access_code = str(options["access_code"])
        self._port = int(options.get("port", 8883))
        self._ftp_port = int(options.get("ftp_port", 990))
        self._verify_tls = bool(options.get("verify_tls", False))
        self._ca_cert: str | None = options.get("ca_cert") or None
        self._command_timeout = float(options.get("command_timeout", 10.0))
        self._connect_timeout = float(options.get("connect_timeout", 10.0))
        self._stale_after = float(options.get("stale_after", 300.0))
        self._url_scheme = str(options.get("url_scheme", "file"))
        self._plate = int(options.get("plate", 1))
        self._use_ams = bool(options.get("use_ams", False))
        self._ams_mapping: list[int] = list(options.get("ams_mapping") or [0])
        if options.get("chamber_heater"):
            self.capabilities = self.capabilities | {Capability.CHAMBER_TEMP}

        self._report_topic = f"device/{self._serial}/report"
        self._request_topic = f"device/{self._serial}/request"
        self._report: dict[str, Any] = {}
        self._version: dict[str, Any] = {}
        self._sequence = itertools.count(int(time.time()) % 100_000)
        self._pending: dict[str, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._connected = False
        self._first_attempt: asyncio.Event = asyncio.Event()
        self._auth_error: AuthenticationFailed | None = None
        self._last_message = 0.0
        self._watchdog: asyncio.Task[None] | None = None
        self.connections = 0  # successful MQTT connections (for diagnostics)

    # --- lifecycle ---------------------------------------------------------
    async def connect(self) -> None:
        """Start the MQTT loop; raises :class:`AuthenticationFailed` on a wrong access code.

        An unreachable printer does not raise: paho keeps reconnecting (1 to 30 s
        backoff) and the state stays ``offline`` until reports arrive.
        """
        if self._client is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._first_attempt.clear()
        self._auth_error = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"apf-{uuid.uuid4()}",
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set("bblp", self._access_code)
        # loading CA files is blocking I/O: keep it off the event loop
        client.tls_set_context(await asyncio.to_thread(self._ssl_context))
        client.tls_insecure_set(True)  # the certificate names the serial, never the host
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        client.connect_async(self._host, self._port, keepalive=30)
        client.loop_start()
        self._watchdog = asyncio.create_task(self._watch_staleness())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._connect_timeout):
                await self._first_attempt.wait()
        if self._auth_error is not None:
            error = self._auth_error
            await self.close()
            raise error

    async def close(self) -> None:
        client, self._client = self._client, None
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if client is not None:
            client.on_connect = client.on_disconnect = client.on_message = None
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
        self._connected = False
        self._fail_pending(PrinterUnreachable("driver closed"))
        self._update(status=Status.OFFLINE)

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # the certificate's CN is the serial, not the host
        if self._verify_tls:
            context.verify_mode = ssl.CERT_REQUIRED
            context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # Bambu CA lacks key usage
            if self._ca_cert:
                context.load_verify_locations(cafile=self._ca_cert)
            else:
                context.load_default_certs()
        else:
            context.verify_mode = ssl.CERT_NONE
        return context

    # --- paho callbacks (paho's thread) ------------------------------------------
    def _call_in_loop(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop shutting down
                loop.call_soon_threadsafe(callback, *args)

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            text = str(reason).lower()
            if text in AUTH_REASONS:
                client.disconnect()  # stop retrying with a wrong access code
            self._call_in_loop(self._connect_failed, text)
            return
        client.subscribe(self._report_topic, qos=1)
        self._call_in_loop(self._connected_ok)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._call_in_loop(self._disconnected, str(reason))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            payload = json.loads(message.payload)
        except ValueError:
            _LOGGER.debug("bambu %s: ignoring malformed report", self._serial)
            return
        if isinstance(payload, dict):
            self._call_in_loop(self._handle_report, payload)

    # --- event-loop side ---------------------------------------------------------
    def _connect_failed(self, reason: str) -> None:
        if reason in AUTH_REASONS:
            self._auth_error = AuthenticationFailed("printer rejected the access code")
            self._update(status=Status.OFFLINE, error=str(self._auth_error))
        _LOGGER.debug("bambu %s: connection refused: %s", self._serial, reason)
        self._first_attempt.set()

    def _connected_ok(self) -> None:
        self._connected = True
        self.connections += 1
        self._first_attempt.set()
        self._last_message = time.monotonic()
        if self._report:  # keep what we knew; pushall below refreshes it
            self._recompute()
        self._publish("info", "get_version")
        self._publish("pushing", "pushall", version=1, push_target=1)

    def _disconnected(self, reason: str) -> None:
        _LOGGER.debug("bambu %s: disconnected: %s", self._serial, reason)
        self._connected = False
        self._fail_pending(PrinterUnreachable("connection to printer lost"))
        self._update(status=Status.OFFLINE)

    def _fail_pending(self, error: DriverError) -> None:
        pending, self._pending = self._pending, {}
        for _command, future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def _watch_staleness(self) -> None:
        """A connected but silent printer counts as offline; probe it with ``pushall``.

        Probes are spaced by ``stale_after`` (P1 printers dislike frequent pushall).
        """
        last_probe = 0.0
        while True:
            await asyncio.sleep(min(5.0, self._stale_after / 4))
            now = time.monotonic()
            silent = now - self._last_message
            if not self._connected or silent <= self._stale_after:
                continue
            if self.state.status is not Status.OFFLINE:
                _LOGGER.debug("bambu %s: no report for %.0fs", self._serial, silent)
                self._update(status=Status.OFFLINE)
            if now - last_probe > self._stale_after:
                last_probe = now
                with contextlib.suppress(DriverError):
                    self._publish("pushing", "pushall", version=1, push_target=1)

    def _handle_report(self, payload: Mapping[str, Any]) -> None:
        self._last_message = time.monotonic()
        for kind, body in payload.items():
            if not isinstance(body, Mapping):
                continue
            command = body.get("command")
            sequence = str(body.get("sequence_id", ""))
            waiting = self._pending.get(sequence)
            if waiting is not None and waiting[0] == command:  # a reply to our command
                del self._pending[sequence]
                if not waiting[1].done():
                    waiting[1].set_result(dict(body))
                continue
            if kind == "print" and command == "push_status":
                deep_merge(self._report, body)
                self._recompute()
            elif kind == "info" and command == "get_version":
                self._version = dict(body)
        if self._connected and self.state.status is Status.OFFLINE and self._report:
            self._recompute()

    def _recompute(self) -> None:
        report = self._report
        if not report or not self._connected:
            return
        gcode_state = str(report.get("gcode_state", "UNKNOWN")).upper()
        status = GCODE_STATUS.get(gcode_state, Status.IDLE)
        print_error = _integer(report.get("print_error")) or 0
        error: str | None = None
        error_code: int | None = None
        if gcode_state == "FAILED" and print_error == CANCELLED_ERROR:
            status = Status.CANCELLED
        elif print_error:
            error_code = print_error
            error = f"print error {print_error_code(print_error)}"
            if gcode_state == "FAILED":
                status = Status.ERROR
        elif gcode_state == "FAILED":
            error = "print failed"
        hms = [entry for entry in report.get("hms") or () if isinstance(entry, Mapping)]
        if hms:
            error = ", ".join(hms_code(entry) for entry in hms)
            if any(hms_severity(entry) in (1, 2) for entry in hms):
                status = Status.ERROR

        in_job = gcode_state in JOB_STATES
        nozzle = _number(report.get("nozzle_temper"))
        nozzle_target = _number(report.get("nozzle_target_temper"))
        bed = _number(report.get("bed_temper"))
        bed_target = _number(report.get("bed_target_temper"))
        chamber = _number(report.get("chamber_temper"))
        device = _section(report, "device")
        if nozzle is None and device:
            extruders = (device.get("extruder") or {}).get("info") or []
            if extruders and isinstance(extruders[0], Mapping):
                nozzle, nozzle_target = _packed_temps(extruders[0].get("temp"))
        if bed is None and device:
            bed, bed_target = _packed_temps(_device_info(device, "bed").get("temp"))
        if chamber is None and device:
            chamber, _ = _packed_temps(_device_info(device, "ctc").get("temp"))

        progress = 100.0 if gcode_state == "FINISH" else _number(report.get("mc_percent"))
        remaining = 0 if gcode_state == "FINISH" else _integer(report.get("mc_remaining_time"))
        self._update(
            status=status,
            error=error,
            error_code=error_code,
            nozzle_temp=nozzle,
            nozzle_target=nozzle_target,
            bed_temp=bed,
            bed_target=bed_target,
            chamber_temp=chamber,
            progress=progress if in_job else None,
            remaining_time_minutes=remaining if in_job else None,
            layer_num=_integer(report.get("layer_num")) if in_job else None,
            total_layers=_integer(report.get("total_layer_num")) if in_job else None,
            current_file=(report.get("subtask_name") or report.get("gcode_file") or None)
            if in_job
            else None,
            light_on=self._light_state(report),
            trays=self._trays(report),
            active_tray=self._active_tray(report),
        )

    @staticmethod
    def _light_state(report: Mapping[str, Any]) -> bool | None:
        for light in report.get("lights_report") or ():
            if isinstance(light, Mapping) and light.get("node") == "chamber_light":
                return str(light.get("mode")) in ("on", "flashing")
        return None

    @staticmethod
    def _trays(report: Mapping[str, Any]) -> tuple[Tray, ...]:
        trays: list[Tray] = []
        ams = _section(report, "ams")
        for unit in ams.get("ams") or ():
            unit_id = _integer(unit.get("id")) if isinstance(unit, Mapping) else None
            if unit_id is None:
                continue
            for slot in unit.get("tray") or ():
                slot_id = _integer(slot.get("id")) if isinstance(slot, Mapping) else None
                if slot_id is not None:
                    trays.append(_tray(unit_id * 4 + slot_id, slot))
        external = report.get("vt_tray")
        if isinstance(external, Mapping):
            trays.append(_tray(EXTERNAL_SPOOL, external))
        return tuple(trays)

    @staticmethod
    def _active_tray(report: Mapping[str, Any]) -> int | None:
        ams = _section(report, "ams")
        tray_now = _integer(ams.get("tray_now"))
        return None if tray_now is None or tray_now == NO_TRAY else tray_now

    @property
    def report(self) -> Mapping[str, Any]:
        """The merged raw ``print`` report (read-only use)."""
        return self._report

    @property
    def version_info(self) -> Mapping[str, Any]:
        return self._version

    # --- commands ----------------------------------------------------------------
    def _publish(self, kind: str, command: str, **fields: Any) -> str:
        client = self._client
        if client is None or not self._connected:
            raise PrinterUnreachable("not connected to the printer")
        sequence = str(next(self._sequence))
        body = {"sequence_id": sequence, "command": command, **fields}
        info = client.publish(self._request_topic, json.dumps({kind: body}), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise PrinterUnreachable(f"publish failed: {mqtt.error_string(info.rc)}")
        return sequence

    async def _command(self, kind: str, command: str, **fields: Any) -> dict[str, Any]:
        """Publish a command and wait for the reply that echoes its ``sequence_id``."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        sequence = self._publish(kind, command, **fields)
        self._pending[sequence] = (command, future)
        try:
            async with asyncio.timeout(self._command_timeout):
                reply = await future
        except TimeoutError as err:
            raise CommandTimeout(f"printer did not acknowledge {command} in time") from err
        finally:
            self._pending.pop(sequence, None)
        result = str(reply.get("result", "success")).lower()
        if result != "success":
            reason = reply.get("reason") or reply.get("result")
            raise DriverError(f"printer refused {command}: {reason}")
        return reply

    async def start_print(self, path: Path, filename: str) -> None:
        if not self._connected:
            raise PrinterUnreachable("not connected to the printer")
        await self.upload(path, filename)
        await self.start_file(filename)

    async def start_file(self, filename: str) -> None:
        """Start a file that is already in the printer's storage root."""
        if filename.lower().endswith(".3mf"):
            url = f"ftp:///{filename}" if self._url_scheme == "ftp" else f"file:///sdcard/{filename}"
            name = filename.removesuffix(".3mf").removesuffix(".gcode")
            await self._command(
                "print",
                "project_file",
                param=f"Metadata/plate_{self._plate}.gcode",
                url=url,
                subtask_name=name,
                md5="",
                bed_type="auto",
                timelapse=False,
                bed_leveling=True,
                flow_cali=True,
                vibration_cali=True,
                layer_inspect=True,
                use_ams=self._use_ams,
                ams_mapping=self._ams_mapping,
                profile_id="0",
                project_id="0",
                subtask_id="0",
                task_id="0",
            )
        else:
            await self._command("print", "gcode_file", param=f"/sdcard/{filename}")

    async def upload(self, path: Path, filename: str) -> None:
        """Store ``path`` as ``/<filename>`` over implicit FTPS."""
        if "/" in filename or "\\" in filename:
            raise DriverError("file name must not contain a path")
        if not await asyncio.to_thread(path.is_file):
            raise DriverError(f"cannot read {path.name}: not a file")
        await asyncio.to_thread(self._ftp_upload, path, filename)

    def _ftp_upload(self, path: Path, filename: str) -> None:
        ftp = ImplicitFTPS(self._ssl_context(), timeout=self._connect_timeout)
        try:
            ftp.connect(self._host, self._ftp_port)
            ftp.login("bblp", self._access_code)
            ftp.prot_p()
            with path.open("rb") as handle:
                ftp.storbinary(f"STOR /{filename}", handle, blocksize=32768)
        except ftplib.error_perm as err:
            if str(err).startswith("530"):
                raise AuthenticationFailed("printer rejected the access code (FTPS)") from err
            raise DriverError(f"upload failed: {err}") from err
        except (OSError, EOFError, ftplib.Error) as err:
            raise PrinterUnreachable(f"upload failed: {err}") from err
        finally:
            if ftp.sock is not None:
                with contextlib.suppress(OSError, EOFError, ftplib.Error):
                    ftp.quit()
            ftp.close()

    async def pause(self) -> None:
        await self._command("print", "pause", param="")

    async def resume(self) -> None:
        await self._command("print", "resume", param="")

    async def stop(self) -> None:
        await self._command("print", "stop", param="")

    async def send_gcode(self, script: str) -> None:
        lines = [line.strip() for line in script.splitlines() if line.strip()]
        if not lines:
            raise DriverError("no G-code to send")
        await self._command("print", "gcode_line", param="\n".join(lines) + "\n")

    async def set_temperature(self, heater: str, target: float) -> None:
        if target < 0:
            raise DriverError("target temperature must not be negative")
        if heater == "nozzle":
            await self.send_gcode(f"M104 S{target:g}")
        elif heater == "bed":
            await self.send_gcode(f"M140 S{target:g}")
        elif heater == "chamber":
            self.require(Capability.CHAMBER_TEMP)
            await self.send_gcode(f"M141 S{target:g}\nM145 P{1 if target > 40 else 0}")
        else:
            raise DriverError(f"unknown heater: {heater}")

    async def home(self) -> None:
        await self.send_gcode("G28")

    async def set_light(self, on: bool) -> None:
        await self._command(
            "system",
            "ledctrl",
            led_node="chamber_light",
            led_mode="on" if on else "off",
            led_on_time=500,
            led_off_time=500,
            loop_times=0,
            interval_time=0,
        )

    async def load_filament(self, tray_id: int, temperature: float) -> None:
        if tray_id == EXTERNAL_SPOOL:
            ams_id, slot_id = NO_TRAY, 0
        elif 0 <= tray_id < 4 * 4:  # up to four AMS units of four trays
            ams_id, slot_id = divmod(tray_id, 4)
        else:
            raise CapabilityNotSupported(Capability.AMS)
        known = {tray.tray_id for tray in self.state.trays}
        if known and tray_id not in known:
            raise DriverError(f"printer has no tray {tray_id}")
        await self._command(
            "print",
            "ams_change_filament",
            ams_id=ams_id,
            slot_id=slot_id,
            target=tray_id,
            curr_temp=int(self.state.nozzle_temp or 0),
            tar_temp=int(temperature),
        )

    async def unload_filament(self) -> None:
        active = self.state.active_tray
        ams_id = active // 4 if active is not None and active < EXTERNAL_SPOOL else NO_TRAY
        await self._command(
            "print",
            "ams_change_filament",
            ams_id=ams_id,
            slot_id=NO_TRAY,
            target=NO_TRAY,
            curr_temp=int(self.state.nozzle_temp or 0),
            tar_temp=int(self.state.nozzle_target or 0),
        )


DRIVER = BambuDriver
