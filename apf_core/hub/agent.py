"""The hub agent (``apf hub``): runs printer drivers on a LAN for a remote server.

On every broker (re)connection it says hello; the server answers with the
printers this hub runs. The agent relays each printer's state, heartbeats,
and executes commands, acknowledging each one by its ``command_id``. A
command id seen before (a re-delivery) is answered from a small memory
instead of being run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import platform
import tempfile
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..discovery.scan import ScanOptions, scan
from ..domain.control import CapabilityMissing, CommandAck, HubOffline, PrinterCommand
from ..drivers import create_driver
from ..drivers.base import ConnectionConfig, PrinterDriver, PrinterState
from ..drivers.manager import QUERIES, START_TIMEOUT_FACTOR, execute_on_driver, query_driver
from . import protocol
from .channel import WILL_SEQ, Channel, SealError
from .crypto import LinkKeys
from .mqtt import AsyncMqtt

_LOGGER = logging.getLogger(__name__)
REMEMBERED_COMMANDS = 256
FILE_WAIT_SECONDS = 30.0
#: non-transition frames are relayed at most this often per printer
STATE_INTERVAL = 0.5


class HubAgent:
    def __init__(
        self,
        token: str,
        broker_url: str,
        *,
        server_url: str = "",
        heartbeat: float = protocol.HEARTBEAT_SECONDS,
        work_dir: Path | None = None,
        username: str | None = None,
        password: str | None = None,
        discovery: ScanOptions | None = None,
    ) -> None:
        self.keys = LinkKeys.from_token(token)
        self.key = self.keys.topic_id
        self.channel = Channel(self.keys, hub_side=True)
        self.broker_url = broker_url
        self.server_url = server_url
        self.heartbeat = heartbeat
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="apf-hub-"))
        # default: the broker identity derived from the token ("" = connect anonymously)
        if username is None:
            username, password = self.keys.broker_username, self.keys.broker_password
        self._credentials = (username, password)
        self.discovery = discovery or ScanOptions()
        self.session = str(uuid.uuid4())
        self.hub_id: str | None = None
        self.drivers: dict[str, PrinterDriver] = {}
        self._fingerprints: dict[str, str] = {}
        self._last_sent: dict[str, tuple[object, float]] = {}
        self._files: dict[str, bytes] = {}
        self._file_arrived: dict[str, asyncio.Event] = {}
        self._done: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._running: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._mqtt: AsyncMqtt | None = None
        self._stop = asyncio.Event()
        self.configured = asyncio.Event()
        self._last_hello = 0.0

    @property
    def broker_username(self) -> str | None:
        """The user this hub logs in to the broker as (None or "" = anonymous)."""
        return self._credentials[0]

    def _topic(self, *parts: str) -> str:
        return protocol.topic(self.key, *parts)

    def _send(self, parts: tuple[str, ...], body: dict[str, Any], qos: int = 1) -> None:
        if self._mqtt is not None:
            name = self._topic("up", *parts)
            self._mqtt.publish(name, self.channel.seal(name, body), qos=qos)

    def _farewell(self) -> tuple[str, bytes]:
        name = self._topic("up", "status")
        return name, self.channel.seal(name, {"online": False}, seq=WILL_SEQ)

    def _hello(self) -> None:
        self._last_hello = time.monotonic()
        hello = {
            "session": self.session,
            "version": f"apf-hub {__version__}",
            "hardware": platform.machine()[:50],
            "heartbeat_seconds": self.heartbeat,
        }
        self._send(("hello",), self.channel.hello(hello))

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        host, port, tls = protocol.broker_address(self.broker_url)
        username, password = self._credentials
        self._mqtt = AsyncMqtt(
            f"apf-hub-{self.key[:12]}-{self.session[:8]}",
            on_message=self._on_message,
            on_connect=self._on_connect,
            will=self._farewell(),
            username=username,
            password=password,
            keepalive=max(5, int(self.heartbeat * 2)),
        )
        self._mqtt.start(host, port, tls=tls)
        self._spawn(self._heartbeats())

    async def run(self) -> None:
        """Run until :meth:`request_stop` (or a signal in the CLI)."""
        await self.start()
        await self._stop.wait()
        await self.stop()

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        for task in tuple(self._tasks):
            task.cancel()
        for printer_id in tuple(self.drivers):
            await self._detach(printer_id)
        if self._mqtt is not None:
            await self._mqtt.stop(farewell=self._farewell())

    # --- MQTT -----------------------------------------------------------------------------
    def _on_connect(self) -> None:
        assert self._mqtt is not None
        self._mqtt.subscribe(self._topic("down", "#"))
        self._hello()
        _LOGGER.info("hub connected to %s", self.broker_url)

    def _on_message(self, name: str, payload: bytes) -> None:
        parsed = protocol.parse_topic(name)
        if parsed is None or parsed[0] != self.key:
            return
        parts = parsed[1]
        try:
            opened = self.channel.open(name, payload)
        except SealError:
            _LOGGER.debug("unauthenticated message on %s dropped", name)
            return
        if parts == ("down", "welcome"):
            self._welcome(opened)
            return
        if not self.channel.fresh(opened):
            if not self.channel.from_peer(opened) and time.monotonic() - self._last_hello > 1.0:
                self._hello()  # the server restarted (or a replay): shake hands again
            return
        if parts[:2] == ("down", "file") and len(parts) == 3:
            self._files[parts[2]] = opened.body
            self._file_arrived.setdefault(parts[2], asyncio.Event()).set()
            return
        try:
            body = json.loads(opened.body)
        except ValueError:
            _LOGGER.warning("malformed message on %s", name)
            return
        if not isinstance(body, dict):
            return
        if parts == ("down", "config"):
            self._spawn(self._configure(body))
        elif parts == ("down", "command"):
            self._spawn(self._command(body))

    def _welcome(self, opened: Any) -> None:
        try:
            body = json.loads(opened.body)
        except ValueError:
            return
        ready = self.channel.on_welcome(opened, body) if isinstance(body, dict) else None
        if ready is None:
            return  # an answer to no hello of ours: a replay
        self._send(("ready",), ready)
        for printer_id, driver in self.drivers.items():  # the server may have missed frames
            self._send_state(printer_id, driver.state, force=True)

    async def _heartbeats(self) -> None:
        while True:
            if self._mqtt is not None and self._mqtt.connected:
                if self.channel.established:
                    self._send(("heartbeat",), {"session": self.session, "ts": time.time()}, 0)
                else:
                    self._hello()  # no (authentic) server answered yet
            await asyncio.sleep(self.heartbeat)

    # --- printers ----------------------------------------------------------------------------
    async def _configure(self, config: dict[str, Any]) -> None:
        self.hub_id = str(config.get("hub_id") or "")
        wanted: dict[str, dict[str, Any]] = {str(p["id"]): p for p in config.get("printers") or ()}
        for printer_id in set(self.drivers) - set(wanted):
            await self._detach(printer_id)
        for printer_id, spec in wanted.items():
            fingerprint = json.dumps([spec.get("protocol"), spec.get("connection")], sort_keys=True)
            if self._fingerprints.get(printer_id) == fingerprint:
                continue
            await self._detach(printer_id)
            try:
                driver = create_driver(
                    ConnectionConfig(str(spec["protocol"]), dict(spec.get("connection") or {}))
                )
            except Exception as err:
                _LOGGER.warning("printer %s: cannot create its driver: %s", printer_id, err)
                continue
            self.drivers[printer_id] = driver
            self._fingerprints[printer_id] = fingerprint
            driver.add_listener(self._relay(printer_id))
            self._spawn(self._connect(printer_id, driver))
        for printer_id, driver in self.drivers.items():  # the server may think they are offline
            self._send_state(printer_id, driver.state, force=True)
        self.configured.set()
        _LOGGER.info("hub %s runs %d printer(s)", self.hub_id, len(self.drivers))

    async def _connect(self, printer_id: str, driver: PrinterDriver) -> None:
        try:
            await driver.connect()
        except Exception as err:
            _LOGGER.warning("printer %s: connection failed: %s", printer_id, err)
        self._send_state(printer_id, driver.state, force=True)

    async def _detach(self, printer_id: str) -> None:
        driver = self.drivers.pop(printer_id, None)
        self._fingerprints.pop(printer_id, None)
        if driver is not None:
            with contextlib.suppress(Exception):
                await driver.close()

    def _relay(self, printer_id: str) -> Callable[[PrinterState], None]:
        return lambda state: self._send_state(printer_id, state)

    def _send_state(self, printer_id: str, state: PrinterState, *, force: bool = False) -> None:
        if self._mqtt is None or not self.channel.established:
            return
        now = time.monotonic()
        shape = (state.status, state.active_tray, state.trays, state.messages, state.offline_reason)
        last = self._last_sent.get(printer_id)
        if not force and last is not None and last[0] == shape and now - last[1] < STATE_INTERVAL:
            return  # nothing important changed and one was sent just now
        self._last_sent[printer_id] = (shape, now)
        self._send(("state",), {"printer_id": printer_id, "state": protocol.state_to_dict(state)})

    # --- commands ------------------------------------------------------------------------------
    async def _command(self, body: dict[str, Any]) -> None:
        command_id = str(body.get("command_id") or "")
        if not command_id:
            return
        if command_id in self._done:  # re-delivered: answer again, do not run twice
            self._ack(self._done[command_id])
            return
        if command_id in self._running:
            return
        task = asyncio.get_running_loop().create_task(self._run_command(command_id, body))
        self._running[command_id] = task
        try:
            result = await task
        finally:
            self._running.pop(command_id, None)
        if body.get("action") not in QUERIES:  # a read is cheap to repeat, and may be large
            self._done[command_id] = result
        while len(self._done) > REMEMBERED_COMMANDS:
            self._done.popitem(last=False)
        self._ack(result)

    def _ack(self, result: dict[str, Any]) -> None:
        self._send(("ack",), result)

    async def _run_command(self, command_id: str, body: dict[str, Any]) -> dict[str, Any]:
        def failure(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
            return {
                "command_id": command_id,
                "ok": False,
                "error": {"kind": kind, "message": message, "code": code},
            }

        if body.get("action") == "discover" and not body.get("printer_id"):
            return await self._discover(command_id, body.get("params") or {})
        driver = self.drivers.get(str(body.get("printer_id")))
        if driver is None:
            return failure("unreachable", "This hub does not run that printer")
        params = dict(body.get("params") or {})
        action = str(body.get("action"))
        timeout = float(body.get("timeout") or 30.0)
        path: Path | None = None
        try:
            if action in QUERIES:
                answer = protocol.encode_answer(action, await query_driver(driver, action, timeout))
                return {"command_id": command_id, "ok": True, **answer}
            if action == "start":
                path = await self._receive_file(command_id, body.get("file") or {}, params)
                params["path"] = str(path)
                timeout /= START_TIMEOUT_FACTOR  # execute_on_driver scales it up again
            command = PrinterCommand(action, params, command_id=command_id)
            ack: CommandAck = await execute_on_driver(driver, command, timeout)
        except CapabilityMissing as err:
            return failure("capability", str(err))
        except HubOffline as err:
            return failure("unreachable", str(err))
        except Exception as err:  # HubCommandFailed, AnswerError, file problems
            return failure("refused", str(err) or type(err).__name__, getattr(err, "code", None))
        finally:
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()
        return {"command_id": ack.command_id, "ok": True}

    async def _discover(self, command_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """A LAN scan from this hub (``POST /hubs/{id}/discovered-printers/scan``)."""
        try:
            seconds = min(max(float(params.get("seconds") or 5.0), 0.5), 30.0)
        except (TypeError, ValueError):
            seconds = 5.0
        found = await scan(replace(self.discovery, seconds=seconds))
        return {"command_id": command_id, "ok": True, "printers": [f.as_dict() for f in found]}

    async def _receive_file(
        self, transfer_id: str, meta: dict[str, Any], params: dict[str, Any]
    ) -> Path:
        arrived = self._file_arrived.setdefault(transfer_id, asyncio.Event())
        try:
            await asyncio.wait_for(arrived.wait(), FILE_WAIT_SECONDS)
        except TimeoutError:
            raise RuntimeError("The print file did not arrive") from None
        finally:
            self._file_arrived.pop(transfer_id, None)
        data = self._files.pop(transfer_id)
        if len(data) != meta.get("size") or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise RuntimeError("The print file arrived damaged (size or SHA-256 mismatch)")
        name = Path(str(params.get("filename") or "print.gcode")).name
        path = self.work_dir / f"{transfer_id}-{name}"
        await asyncio.to_thread(path.write_bytes, data)
        return path

    def _spawn(self, coro: Any) -> None:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("hub task failed")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
