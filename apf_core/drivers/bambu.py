"""Bambu Lab LAN-mode driver: MQTT over TLS for status and commands, FTPS for uploads.

See printer-protocols.md section 3. The MQTT session (paho's thread, handing every
callback to the asyncio loop) is :mod:`.bambu_mqtt`; command payloads and how a command
shows its effect, :mod:`.bambu_commands`. Reports are deep-merged (P1/A1 printers send
deltas) and commands wait for the reply that echoes their ``sequence_id``.

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
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..aio import cancel_and_wait
from ..net.session import check_host
from ..net.ssrf import BlockedAddress
from . import bambu_camera as cam
from . import bambu_report as rep
from .bambu_commands import (
    ReportWaiters,
    ams_address,
    job_started,
    light_is,
    light_nodes,
    print_url,
    project_file_fields,
    state_in,
    tray_target,
    unload_ams_id,
)
from .bambu_ftps import Upload, upload_time_limit
from .bambu_mqtt import AUTH_REASONS, MqttLink, tls_context, tls_options
from .bambu_start import plan_start, project_fields, read_plate, start_defaults, with_defaults
from .base import (
    SPEED_LEVELS,
    AuthenticationFailed,
    Capability,
    CommandIgnored,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PrinterDriver,
    PrinterUnreachable,
    StartOptions,
    Status,
)


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
        self._verify_tls, self._ca_cert = tls_options(options)
        self._command_timeout = float(options.get("command_timeout", 10.0))
        self._connect_timeout = float(options.get("connect_timeout", 10.0))
        self._stale_after = float(options.get("stale_after", 300.0))
        self._confirm_timeout = float(options.get("confirm_timeout", 20.0))
        self._final_reply_timeout = float(options.get("ftp_final_reply_timeout", 60.0))
        self._url_scheme: str | None = options.get("url_scheme") or None
        self._model_option: str | None = options.get("model") or None
        self._defaults = start_defaults(options)
        self._chamber_heater = bool(options.get("chamber_heater"))
        self._cleared: tuple[Any, ...] | None = None  # a terminal state the operator cleared
        self._waiters = ReportWaiters()

        self._report: dict[str, Any] = {}
        self._version: dict[str, Any] = {}
        self._link = MqttLink(
            self._serial,
            self._access_code,
            on_failed=self._connect_failed,
            on_connected=self._connected_ok,
            on_disconnected=self._disconnected,
            on_report=self._handle_report,
        )
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
        if self._link.started:
            return
        try:
            await check_host(self._host, self._port)
        except BlockedAddress as err:
            raise PrinterUnreachable(f"refused: {err}") from None
        self._first_attempt.clear()
        self._auth_error = None
        # loading CA files is blocking I/O: keep it off the event loop
        self._link.start(self._host, self._port, await asyncio.to_thread(self._ssl_context, False))
        self._watchdog = asyncio.create_task(self._watch_staleness())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._connect_timeout):
                await self._first_attempt.wait()
        if self._auth_error is not None:
            error = self._auth_error
            await self.close()
            raise error

    async def close(self) -> None:
        await cancel_and_wait(self._watchdog)
        self._watchdog = None
        await self._link.stop()
        self._connected = False
        self._update(status=Status.OFFLINE)

    def _ssl_context(self, tls12: bool = False) -> ssl.SSLContext:
        return tls_context(self._verify_tls, self._ca_cert, tls12)

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
        self._link.fail_pending(PrinterUnreachable("connection to printer lost"))
        if self._auth_error is not None:
            return  # keep saying why: the access code is wrong
        self._go_offline(f"MQTT connection to {self._host}:{self._port} lost: {reason}", keep=True)

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
            if self._link.take_reply(body):  # a reply to our command
                continue
            if kind == "print" and command == "push_status":
                if body.get("msg") == 0:  # a full report replaces what we knew
                    self._report = {}
                rep.merge_report(self._report, body)
                self._recompute()
                self._waiters.check(self._report)
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
        if model in cam.JPEG_MODELS or (model is not None and cam.ffmpeg_path() is not None):
            capabilities.add(Capability.CAMERA)
        self.capabilities = frozenset(capabilities)

    def clear_result(self) -> None:
        """FINISH/FAILED stay until the next print: after a bed clear they read as idle."""
        if str(self._report.get("gcode_state", "")).upper() in rep.TERMINAL_STATES:
            self._cleared = rep.terminal_key(self._report)
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
        elif self._cleared == rep.terminal_key(report):
            status, error, error_code, in_job = Status.IDLE, None, None, False
            messages = tuple(m for m in messages if m.code.startswith("HMS_"))
        self._update(
            status=status,
            error=error,
            error_code=error_code,
            messages=messages,
            offline_reason=None,
            **rep.job_fields(report, in_job),
            **rep.readings(report, self.model),
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
        if not self._connected:
            raise PrinterUnreachable("not connected to the printer")
        return self._link.publish(kind, command, **fields)

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
        sequence = self._publish(kind, command, **fields)
        reply = await self._link.reply(sequence, command, self._command_timeout)
        if reply is not None and "result" in reply:
            if str(reply["result"]).lower() != "success":
                reason = reply.get("reason") or reply.get("result")
                raise DriverError(f"printer refused {command}: {reason}")
            return reply
        left = self._confirm_timeout - (loop.time() - started)
        if expect is not None and await self._waiters.shows(self._report, expect, left):
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
        merged = with_defaults(options, self._defaults)
        plate, filaments = read_plate(path, merged.plate)
        has_ams = rep.has_ams(self._report)
        return project_fields(plan_start(filaments, self.state.trays, has_ams, merged, plate))

    async def start_file(self, filename: str, fields: dict[str, Any] | None = None) -> None:
        """Start a file that is already in the printer's storage root."""
        if filename.lower().endswith(".3mf"):
            name = filename.removesuffix(".3mf").removesuffix(".gcode")
            planned = fields or project_fields(
                plan_start([], self.state.trays, False, self._defaults, self._defaults.plate or 1)
            )
            payload = project_file_fields(
                print_url(self._url_scheme, self.model, filename), name, planned
            )
            await self._command("print", "project_file", job_started, **payload)
        else:
            await self._command("print", "gcode_file", job_started, param=f"/sdcard/{filename}")

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
        await upload.run_in_thread(path, filename)

    async def pause(self) -> None:
        await self._command("print", "pause", state_in("PAUSE"), param="")

    async def resume(self) -> None:
        await self._command("print", "resume", state_in("RUNNING", "PREPARE"), param="")

    async def stop(self) -> None:
        await self._command("print", "stop", state_in("FAILED", "IDLE", "FINISH"), param="")

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
        for node in light_nodes(self.model, self._report):
            await self._command(
                "system",
                "ledctrl",
                light_is(node, mode),
                led_node=node,
                led_mode=mode,
                led_on_time=500,
                led_off_time=500,
                loop_times=0,
                interval_time=0,
            )

    async def load_filament(self, tray_id: int, temperature: float) -> None:
        ams_id, slot_id = ams_address(tray_id)
        known = {tray.tray_id for tray in self.state.trays}
        if known and tray_id not in known:
            raise DriverError(f"printer has no tray {tray_id}", code="INVALID_TRAY")
        await self._command(
            "print",
            "ams_change_filament",
            tray_target(tray_id),
            ams_id=ams_id,
            slot_id=slot_id,
            target=tray_id,
            curr_temp=int(self.state.nozzle_temp or 0),
            tar_temp=int(temperature),
        )

    async def unload_filament(self) -> None:
        ams_id = unload_ams_id(self.state.active_tray)
        await self._command(
            "print",
            "ams_change_filament",
            tray_target(rep.NO_TRAY),
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
        if model is None or model in cam.JPEG_MODELS:
            context = await asyncio.to_thread(self._ssl_context, False)
            port = int(self.config.options.get("camera_port", 6000))
            await self._check_host(port)
            return await cam.jpeg_snapshot(self._host, self._access_code, context, timeout, port)
        url = cam.rtsp_url(self._host, self._access_code, rep.section(self._report, "ipcam"))
        await self._check_host(cam.RTSP_PORT)
        return await cam.rtsp_snapshot(url, timeout)


DRIVER = BambuDriver
