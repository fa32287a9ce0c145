"""Bambu Lab LAN-mode driver: MQTT over TLS for status and commands, FTPS for uploads.

See printer-protocols.md section 3. paho-mqtt runs its network loop in its own
thread; every callback is handed to the asyncio loop with
``call_soon_threadsafe`` so all driver state is touched from one thread only.
Reports are deep-merged (P1/A1 printers send deltas) and commands wait for the
reply that echoes their ``sequence_id``.

Connection options: ``host``, ``serial``, ``access_code``, ``port`` (8883),
``ftp_port`` (990), ``verify_tls`` (False: printers use self-signed
certificates), ``ca_cert`` (PEM path, used when ``verify_tls``),
``command_timeout`` (s), ``confirm_timeout`` (s a command without a ``result`` may take
to show its effect), ``connect_timeout`` (s), ``stale_after`` (s without any report before
the printer counts as offline), ``model`` (overrides the model from ``get_version``),
``url_scheme`` (``file``: ``file:///sdcard/<name>``, or ``ftp``; default by model),
``plate`` / ``use_ams`` / ``ams_mapping`` (defaults for jobs that do not say),
``chamber_heater`` (False; True on X1E/H2D).

Print state comes from ``gcode_state`` (:mod:`.bambu_report`); HMS entries are messages.
Without Developer mode the printer drops some commands silently or answers with a bare
``{command, sequence_id}``: such a command counts only when its effect shows up in the
reports, otherwise it fails with ``DEVELOPER_MODE_REQUIRED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import ssl
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..net.session import check_host
from ..net.ssrf import BlockedAddress
from . import bambu_report as rep
from .bambu_camera import JPEG_MODELS, RTSP_PORT, ffmpeg_path, jpeg_snapshot, rtsp_snapshot
from .bambu_ftps import Upload, upload_time_limit
from .bambu_report import deep_merge, hms_code, print_error_code  # noqa: F401 - re-exported
from .bambu_start import plan_start, project_fields, read_plate
from .base import (
    SPEED_LEVELS,
    AuthenticationFailed,
    Capability,
    CapabilityNotSupported,
    CommandIgnored,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PrinterDriver,
    PrinterUnreachable,
    StartOptions,
    Status,
)

_LOGGER = logging.getLogger(__name__)

AUTH_REASONS = {"not authorized", "bad user name or password"}


class BambuDriver(PrinterDriver):
    protocol = "bambu"
    capabilities = frozenset(
        {
            Capability.LIGHT,
            Capability.FILAMENT_LOAD,
            Capability.SPEED,
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
        if self._verify_tls and not self._ca_cert:
            raise ValueError(
                "bambu: verify_tls needs ca_cert (printers present a certificate signed by "
                "Bambu Lab's own CA, which no system store holds)"
            )
        self._command_timeout = float(options.get("command_timeout", 10.0))
        self._connect_timeout = float(options.get("connect_timeout", 10.0))
        self._stale_after = float(options.get("stale_after", 300.0))
        self._confirm_timeout = float(options.get("confirm_timeout", 20.0))
        self._final_reply_timeout = float(options.get("ftp_final_reply_timeout", 60.0))
        self._url_scheme: str | None = options.get("url_scheme") or None
        self._model_option: str | None = options.get("model") or None
        plate, mapping = options.get("plate"), options.get("ams_mapping")
        self._defaults = StartOptions(
            plate=int(plate) if plate else None,
            use_ams=bool(options["use_ams"]) if "use_ams" in options else None,
            ams_mapping=tuple(int(t) for t in mapping) if mapping else None,
        )
        self._chamber_heater = bool(options.get("chamber_heater"))
        self._cleared: tuple[Any, ...] | None = None  # a terminal state the operator cleared
        self._waiters: list[tuple[Callable[[Mapping[str, Any]], bool], asyncio.Future[None]]] = []

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
        self._refresh_capabilities()

    # --- lifecycle ---------------------------------------------------------
    async def connect(self) -> None:
        """Start the MQTT loop; raises :class:`AuthenticationFailed` on a wrong access code.

        An unreachable printer does not raise: paho keeps reconnecting (1 to 30 s
        backoff) and the state stays ``offline`` until reports arrive.
        """
        if self._client is not None:
            return
        self._loop = asyncio.get_running_loop()
        try:
            await check_host(self._host, self._port)
        except BlockedAddress as err:
            raise PrinterUnreachable(f"refused: {err}") from None
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
        client.tls_set_context(await asyncio.to_thread(self._ssl_context, False))
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

    def _ssl_context(self, tls12: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False  # the certificate's CN is the serial, not the host
        if tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        if self._verify_tls and self._ca_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # Bambu CA lacks key usage
            context.load_verify_locations(cafile=self._ca_cert)
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
            self._go_offline(f"MQTT login refused by the printer: wrong access code ({reason})")
        else:
            self._go_offline(f"MQTT connection to {self._host}:{self._port} refused: {reason}")
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
        self._connected = False
        self._fail_pending(PrinterUnreachable("connection to printer lost"))
        if self._auth_error is not None:
            return  # keep saying why: the access code is wrong
        self._go_offline(f"MQTT connection to {self._host}:{self._port} lost: {reason}", keep=True)

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
                self._go_offline(f"no report from the printer for {silent:.0f} s", keep=True)
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
                if body.get("msg") == 0:  # a full report replaces what we knew
                    self._report = {}
                rep.merge_report(self._report, body)
                self._recompute()
                self._check_waiters()
            elif kind == "info" and command == "get_version":
                self._version = dict(body)
                self._refresh_capabilities()
        if self._connected and self.state.status is Status.OFFLINE and self._report:
            self._recompute()

    # --- derived state -------------------------------------------------------------
    @property
    def model(self) -> str | None:
        """``P1S``, ``A1MINI``, ``X1C``, ``H2D``... from the option or ``get_version``."""
        return self._model_option or rep.model_name(self._version)

    def _refresh_capabilities(self) -> None:
        capabilities = set(type(self).capabilities)
        if self._chamber_heater:
            capabilities.add(Capability.CHAMBER_TEMP)
        if rep.has_ams(self._report):
            capabilities.add(Capability.AMS)
        model = self.model
        if model in JPEG_MODELS or (model is not None and ffmpeg_path() is not None):
            capabilities.add(Capability.CAMERA)
        self.capabilities = frozenset(capabilities)

    def _terminal_key(self) -> tuple[Any, ...]:
        report = self._report
        return (
            report.get("gcode_state"),
            report.get("subtask_name"),
            report.get("task_id"),
            report.get("print_error"),
        )

    def clear_result(self) -> None:
        """FINISH/FAILED stay until the next print: after a bed clear they read as idle."""
        if str(self._report.get("gcode_state", "")).upper() in rep.TERMINAL_STATES:
            self._cleared = self._terminal_key()
            self._recompute()

    def _recompute(self) -> None:
        report = self._report
        if not report or not self._connected:
            return
        self._back_online()
        had_ams = Capability.AMS in self.capabilities
        if had_ams != rep.has_ams(report):
            self._refresh_capabilities()
        gcode_state = str(report.get("gcode_state", "UNKNOWN")).upper()
        status, error, error_code = rep.print_status(report)
        messages = rep.messages(report)
        in_job = gcode_state in rep.JOB_STATES
        if gcode_state not in rep.TERMINAL_STATES:
            self._cleared = None
        elif self._cleared == self._terminal_key():
            status, error, error_code, in_job = Status.IDLE, None, None, False
            messages = tuple(m for m in messages if m.code.startswith("HMS_"))
        finished = gcode_state == "FINISH"
        progress = 100.0 if finished else rep.number(report.get("mc_percent"))
        remaining = 0 if finished else rep.integer(report.get("mc_remaining_time"))
        level = rep.integer(report.get("spd_lvl"))
        names = list(SPEED_LEVELS)
        self._update(
            status=status,
            error=error,
            error_code=error_code,
            messages=messages,
            offline_reason=None,
            progress=progress if in_job else None,
            remaining_time_minutes=remaining if in_job else None,
            layer_num=rep.integer(report.get("layer_num")) if in_job else None,
            total_layers=rep.integer(report.get("total_layer_num")) if in_job else None,
            current_file=(report.get("subtask_name") or report.get("gcode_file") or None)
            if in_job
            else None,
            light_on=rep.light_state(report),
            trays=rep.trays(report),
            active_tray=rep.active_tray(report),
            speed_level=names[level - 1] if level is not None and 1 <= level <= 4 else None,
            speed_percent=rep.integer(report.get("spd_mag")),
            **rep.temperatures(report, self.model),
        )

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

    def _check_waiters(self) -> None:
        for predicate, future in tuple(self._waiters):
            if not future.done() and predicate(self._report):
                future.set_result(None)

    async def _report_shows(
        self, predicate: Callable[[Mapping[str, Any]], bool], timeout: float
    ) -> bool:
        if predicate(self._report):
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(max(timeout, 0.1)):
                await future
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.remove(entry)

    async def _command(
        self,
        kind: str,
        command: str,
        expect: Callable[[Mapping[str, Any]], bool] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Publish a command; it counts when the reply says ``success`` or, for a reply
        without ``result`` (or none), when ``expect`` becomes true of the reports."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        sequence = self._publish(kind, command, **fields)
        self._pending[sequence] = (command, future)
        reply: dict[str, Any] | None = None
        try:
            async with asyncio.timeout(self._command_timeout):
                reply = await future
        except TimeoutError:
            reply = None
        finally:
            self._pending.pop(sequence, None)
        if reply is not None and "result" in reply:
            if str(reply["result"]).lower() != "success":
                reason = reply.get("reason") or reply.get("result")
                raise DriverError(f"printer refused {command}: {reason}")
            return reply
        left = self._confirm_timeout - (loop.time() - started)
        if expect is not None and await self._report_shows(expect, left):
            return reply or {}
        await self._explain_silence(command)
        return {}  # not reached: _explain_silence raises

    async def _explain_silence(self, command: str) -> None:
        """No confirmation: is the printer ignoring us (Developer mode) or gone?"""
        before = self._last_message
        with contextlib.suppress(DriverError):
            self._publish("pushing", "pushall", version=1, push_target=1)
        await asyncio.sleep(min(3.0, self._command_timeout))
        if self._last_message > before:
            raise CommandIgnored(
                f"the printer ignored '{command}': switch on LAN mode with Developer mode "
                "on the printer (Settings > Network), then try again",
                code="DEVELOPER_MODE_REQUIRED",
            )
        raise CommandTimeout(f"printer did not acknowledge {command} in time")

    def start_timeout(self, size_bytes: int, default: float) -> float:
        limit = upload_time_limit(size_bytes, self._connect_timeout)
        return max(default, limit + self._command_timeout + self._confirm_timeout)

    async def start_print(
        self, path: Path, filename: str, options: StartOptions | None = None
    ) -> None:
        if not self._connected:
            raise PrinterUnreachable("not connected to the printer")
        if "/" in filename or "\\" in filename:
            raise DriverError("file name must not contain a path")
        fields: dict[str, Any] | None = None
        if filename.lower().endswith(".3mf"):
            fields = await asyncio.to_thread(self._plan, path, options or StartOptions())
        await self.upload(path, filename)
        await self.start_file(filename, fields)

    def _plan(self, path: Path, options: StartOptions) -> dict[str, Any]:
        defaults = self._defaults
        merged = StartOptions(
            plate=options.plate or defaults.plate,
            use_ams=options.use_ams if options.use_ams is not None else defaults.use_ams,
            ams_mapping=options.ams_mapping or defaults.ams_mapping,
            task_id=options.task_id,
        )
        plate, filaments = read_plate(path, merged.plate)
        has_ams = rep.has_ams(self._report)
        return project_fields(plan_start(filaments, self.state.trays, has_ams, merged, plate))

    def _print_url(self, filename: str) -> str:
        scheme = self._url_scheme or ("ftp" if self.model in rep.FTP_URL_MODELS else "file")
        return f"ftp:///{filename}" if scheme == "ftp" else f"file:///sdcard/{filename}"

    async def start_file(self, filename: str, fields: dict[str, Any] | None = None) -> None:
        """Start a file that is already in the printer's storage root."""
        if filename.lower().endswith(".3mf"):
            name = filename.removesuffix(".3mf").removesuffix(".gcode")
            planned = fields or project_fields(
                plan_start([], self.state.trays, False, self._defaults, self._defaults.plate or 1)
            )
            await self._command(
                "print",
                "project_file",
                _job_started,
                url=self._print_url(filename),
                subtask_name=name,
                md5="",
                bed_type="auto",
                timelapse=False,
                bed_leveling=True,
                flow_cali=True,
                vibration_cali=True,
                layer_inspect=True,
                profile_id="0",
                project_id="0",
                **planned,
            )
        else:
            await self._command("print", "gcode_file", _job_started, param=f"/sdcard/{filename}")

    async def upload(self, path: Path, filename: str) -> None:
        """Store ``path`` as ``/<filename>`` over implicit FTPS (cancellable)."""
        if "/" in filename or "\\" in filename:
            raise DriverError("file name must not contain a path")
        if not await asyncio.to_thread(path.is_file):
            raise DriverError(f"cannot read {path.name}: not a file")
        await self._check_host(self._ftp_port)
        if rep.sd_card_missing(self._report):
            raise DriverError("the printer reports no usable SD card", code="NO_SD_CARD")
        upload = Upload(
            self._host,
            self._ftp_port,
            self._access_code,
            self._ssl_context,
            self._connect_timeout,
            self._final_reply_timeout,
        )
        try:
            await asyncio.to_thread(upload.run, path, filename)
        except asyncio.CancelledError:
            upload.cancelled.set()  # the thread stops at its next block
            raise

    async def pause(self) -> None:
        await self._command("print", "pause", _state_in("PAUSE"), param="")

    async def resume(self) -> None:
        await self._command("print", "resume", _state_in("RUNNING", "PREPARE"), param="")

    async def stop(self) -> None:
        await self._command("print", "stop", _state_in("FAILED", "IDLE", "FINISH"), param="")

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

    async def cooldown(self) -> None:
        script = "M104 S0\nM140 S0" + ("\nM141 S0" if self._chamber_heater else "")
        await self.send_gcode(script)

    async def home(self) -> None:
        await self.send_gcode("G28")

    async def set_speed(self, level: str) -> None:
        if level not in SPEED_LEVELS:
            raise DriverError(f"unknown speed level: {level} (use {', '.join(SPEED_LEVELS)})")
        number = list(SPEED_LEVELS).index(level) + 1
        await self._command(
            "print",
            "print_speed",
            lambda r: rep.integer(r.get("spd_lvl")) == number,
            param=str(number),
        )

    async def set_light(self, on: bool) -> None:
        mode = "on" if on else "off"
        nodes = ["chamber_light"]
        reported = {
            light.get("node")
            for light in self._report.get("lights_report") or ()
            if isinstance(light, Mapping)
        }
        if self.model in rep.TWO_LIGHT_MODELS or "chamber_light2" in reported:
            nodes.append("chamber_light2")
        for node in nodes:
            await self._command(
                "system",
                "ledctrl",
                _light_is(node, mode),
                led_node=node,
                led_mode=mode,
                led_on_time=500,
                led_off_time=500,
                loop_times=0,
                interval_time=0,
            )

    def _ams_address(self, tray_id: int) -> tuple[int, int]:
        if tray_id == rep.EXTERNAL_SPOOL:
            return rep.NO_TRAY, 0
        if tray_id == rep.SECOND_EXTERNAL_SPOOL:
            return rep.EXTERNAL_SPOOL, 0
        if rep.HT_FIRST_UNIT <= tray_id < rep.HT_FIRST_UNIT + 8:
            return tray_id, 0
        if 0 <= tray_id < 4 * 4:  # up to four AMS units of four trays
            return divmod(tray_id, 4)
        raise DriverError(f"printer has no tray {tray_id}", code="INVALID_TRAY")

    async def load_filament(self, tray_id: int, temperature: float) -> None:
        ams_id, slot_id = self._ams_address(tray_id)
        known = {tray.tray_id for tray in self.state.trays}
        if known and tray_id not in known:
            raise DriverError(f"printer has no tray {tray_id}", code="INVALID_TRAY")
        await self._command(
            "print",
            "ams_change_filament",
            _tray_target(tray_id),
            ams_id=ams_id,
            slot_id=slot_id,
            target=tray_id,
            curr_temp=int(self.state.nozzle_temp or 0),
            tar_temp=int(temperature),
        )

    async def unload_filament(self) -> None:
        active = self.state.active_tray
        ams_id = active // 4 if active is not None and active < 16 else rep.NO_TRAY
        if active is not None and rep.HT_FIRST_UNIT <= active < rep.EXTERNAL_SPOOL:
            ams_id = active
        await self._command(
            "print",
            "ams_change_filament",
            _tray_target(rep.NO_TRAY),
            ams_id=ams_id,
            slot_id=rep.NO_TRAY,
            target=rep.NO_TRAY,
            curr_temp=int(self.state.nozzle_temp or 0),
            tar_temp=int(self.state.nozzle_target or 0),
        )

    async def _check_host(self, port: int) -> None:
        try:
            await check_host(self._host, port)
        except BlockedAddress as err:
            raise PrinterUnreachable(f"refused: {err}") from None

    async def snapshot(self) -> bytes:
        model = self.model
        timeout = max(self._command_timeout, 10.0)
        if model is None or model in JPEG_MODELS:
            context = await asyncio.to_thread(self._ssl_context, False)
            port = int(self.config.options.get("camera_port", 6000))
            await self._check_host(port)
            return await jpeg_snapshot(self._host, self._access_code, context, timeout, port)
        ipcam = rep.section(self._report, "ipcam")
        if ipcam.get("rtsp_url") == "disable":
            raise CapabilityNotSupported(
                Capability.CAMERA, "LAN liveview is off: switch it on at the printer's screen"
            )
        await self._check_host(RTSP_PORT)
        url = f"rtsps://bblp:{self._access_code}@{self._host}:{RTSP_PORT}/streaming/live/1"
        return await rtsp_snapshot(url, timeout)


def _state_in(*states: str) -> Callable[[Mapping[str, Any]], bool]:
    return lambda report: str(report.get("gcode_state", "")).upper() in states


def _job_started(report: Mapping[str, Any]) -> bool:
    return str(report.get("gcode_state", "")).upper() in ("PREPARE", "SLICING", "INIT", "RUNNING")


def _light_is(node: str, mode: str) -> Callable[[Mapping[str, Any]], bool]:
    def check(report: Mapping[str, Any]) -> bool:
        return any(
            isinstance(light, Mapping) and light.get("node") == node and light.get("mode") == mode
            for light in report.get("lights_report") or ()
        )

    return check


def _tray_target(tray: int) -> Callable[[Mapping[str, Any]], bool]:
    def check(report: Mapping[str, Any]) -> bool:
        ams = rep.section(report, "ams")
        return str(tray) in (str(ams.get("tray_tar")), str(ams.get("tray_now")))

    return check


DRIVER = BambuDriver
