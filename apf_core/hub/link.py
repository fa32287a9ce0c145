"""The server side of the remote-hub link (an MQTT client in the server process).

It tracks each remote hub's session (online, last heartbeat), sends hubs their
printer list, relays telemetry into the :class:`TelemetryBridge`, and runs
commands for the :class:`DriverManager` as a :class:`RemoteExecutor`.

A command is never lost silently: it is acknowledged by the hub, or fails
with :class:`HubOffline` (hub not connected, or it dropped before the ACK) or
:class:`HubCommandFailed` (refused, no ACK in time, broker link lost).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from ..domain.control import (
    CapabilityMissing,
    CommandAck,
    HubCommandFailed,
    HubOffline,
    PrinterCommand,
)
from ..drivers.base import PrinterState
from ..drivers.manager import command_timeout
from ..net.redact import redact
from ..storage.tables.spine import hubs, printers
from ..timeutil import new_id, utcnow
from . import protocol
from .channel import Channel, SealError
from .crypto import LinkKeys
from .mqtt import AsyncMqtt
from .vault import VaultError, load_master_key, open_secret

if TYPE_CHECKING:
    from ..drivers.manager import DriverManager
    from ..farm import Farm
    from ..telemetry import TelemetryBridge

_LOGGER = logging.getLogger(__name__)
WATCHDOG_SECONDS = 1.0
#: a last will is believed only if the broker link survives this long after it
#: (Mosquitto also publishes wills when the broker itself shuts down)
WILL_CONFIRM_SECONDS = 1.0
#: messages on an unknown topic id re-read the hub list at most this often
UNKNOWN_REFRESH_SECONDS = 5.0


@dataclass(slots=True)
class HubSession:
    hub_id: str
    channel: Channel
    sealed_key: str
    online: bool = False
    last_seen: float = 0.0
    heartbeat: float = protocol.HEARTBEAT_SECONDS
    session: str | None = None
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    printers: set[str] = field(default_factory=set)
    hello: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The hub's topic id."""
        return self.channel.keys.topic_id


class HubLink:
    """Implements :class:`~apf_core.drivers.manager.RemoteExecutor` over MQTT."""

    def __init__(
        self, farm: Farm, manager: DriverManager, telemetry: TelemetryBridge, broker_url: str
    ) -> None:
        self.farm = farm
        self.manager = manager
        self.telemetry = telemetry
        self.broker_url = broker_url
        self.sessions: dict[str, HubSession] = {}  # by hub id
        self._by_key: dict[str, HubSession] = {}
        self._mqtt: AsyncMqtt | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._link_drops = 0
        self._master: bytes | None = None
        self._legacy_warned: set[str] = set()
        self._last_unknown_refresh = 0.0

    @property
    def connected(self) -> bool:
        return self._mqtt is not None and self._mqtt.connected

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._master = await asyncio.to_thread(load_master_key, self.farm.settings.data_dir)
        await self.refresh_hubs()
        host, port, tls = protocol.broker_address(self.broker_url)
        username, password = protocol.broker_credentials(self.broker_url)
        self._mqtt = AsyncMqtt(
            f"apf-server-{self.farm.server_id[:12]}",
            on_message=self._on_message,
            on_connect=self._on_connect,
            on_disconnect=self._on_disconnect,
            username=username,
            password=password,
        )
        self._mqtt.start(host, port, tls=tls)
        self._watchdog = asyncio.create_task(self._watch(), name="hub watchdog")
        self.manager.set_remote(self)

    async def stop(self) -> None:
        self.manager.set_remote(None)
        for task in (self._watchdog, *self._tasks):
            if task is not None:
                task.cancel()
        for session in self.sessions.values():
            self._fail_pending(session, HubOffline("The server is shutting down"))
        if self._mqtt is not None:
            await self._mqtt.stop()

    async def refresh_hubs(self) -> None:
        """Learn remote hubs (and open their sealed link keys) from the database."""
        async with self.farm.db.read() as conn:
            rows = (
                await conn.execute(
                    select(hubs.c.id, hubs.c.link_key).where(hubs.c.kind != "embedded")
                )
            ).all()
        known: set[str] = set()
        for row in rows:
            current = self.sessions.get(row.id)
            if current is not None and current.sealed_key == row.link_key:
                known.add(row.id)
                continue
            session = self._open_session(row.id, row.link_key)
            if session is None:
                continue
            if current is not None:  # the token was rotated: the old hub is cut off
                self._by_key.pop(current.key, None)
                self._fail_pending(current, HubOffline("The hub's token was rotated"))
            known.add(row.id)
            self.sessions[row.id] = session
            self._by_key[session.key] = session
        for hub_id in set(self.sessions) - known:
            session = self.sessions.pop(hub_id)
            self._by_key.pop(session.key, None)
            self._fail_pending(session, HubOffline("The hub was removed"))

    def _open_session(self, hub_id: str, sealed: str | None) -> HubSession | None:
        if not sealed:
            if hub_id not in self._legacy_warned:
                self._legacy_warned.add(hub_id)
                _LOGGER.warning("hub %s has no link key: rotate its token to link it", hub_id)
            return None
        try:
            assert self._master is not None
            root = open_secret(self._master, sealed, hub_id)
        except VaultError as err:
            _LOGGER.error("hub %s: %s", hub_id, err)
            return None
        return HubSession(hub_id, Channel(LinkKeys.from_root(root), hub_side=False), sealed)

    def _send(self, session: HubSession, body: bytes | dict[str, Any], *parts: str) -> bool:
        if self._mqtt is None:
            return False
        name = protocol.topic(session.key, "down", *parts)
        return self._mqtt.publish(name, session.channel.seal(name, body))

    # --- RemoteExecutor ------------------------------------------------------------------
    def is_online(self, hub_id: str, printer_id: str) -> bool:
        session = self.sessions.get(hub_id)
        if session is None or not session.online or not self.connected:
            return False
        live = self.farm.live.get(printer_id)
        return live is not None and live.online

    def hub_online(self, hub_id: str) -> bool:
        session = self.sessions.get(hub_id)
        return session is not None and session.online and self.connected

    async def execute(
        self,
        hub_id: str,
        printer_id: str,
        command: PrinterCommand,
        timeout: float,
    ) -> CommandAck:
        session = self._online(hub_id, "The printer's hub is offline")
        limit = command_timeout(command, timeout)
        body: dict[str, Any] = {
            "command_id": command.command_id,
            "printer_id": printer_id,
            "action": command.action,
            "params": dict(command.params),
            "timeout": limit,
        }
        if command.action == "start":
            path = Path(command.params["path"])
            try:
                data = await asyncio.to_thread(path.read_bytes)
            except OSError as err:
                raise HubCommandFailed(f"Cannot read the print file: {err.strerror}") from None
            body["params"] = {"filename": command.params["filename"]}
            body["file"] = {
                "transfer_id": command.command_id,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            if not self._send(session, data, "file", command.command_id):
                raise HubOffline("The connection to the hub's broker is down")
        await self._exchange(session, body, limit)
        return CommandAck(command.command_id)

    async def scan(self, hub_id: str, seconds: float) -> list[Any]:
        """A LAN scan run by a remote hub: its entries, unchecked (the caller validates)."""
        body = {"printer_id": None, "action": "discover", "params": {"seconds": seconds}}
        ack = await self._ask(hub_id, "The hub is offline", body, seconds, seconds + 5.0)
        printers = ack.get("printers")
        return printers if isinstance(printers, list) else []

    async def query(self, hub_id: str, printer_id: str, what: str, timeout: float) -> Any:
        """A read run on the hub (camera snapshot, power devices), decoded."""
        body = {"printer_id": printer_id, "action": what, "params": {}}
        ack = await self._ask(hub_id, "The printer's hub is offline", body, timeout, timeout)
        try:
            return protocol.decode_answer(what, ack)
        except protocol.AnswerError as err:
            raise HubCommandFailed(str(err), code=err.code) from None

    async def _ask(
        self, hub_id: str, offline: str, body: dict[str, Any], timeout: float, wait: float
    ) -> dict[str, Any]:
        session = self._online(hub_id, offline)
        body = {"command_id": new_id(), **body, "timeout": timeout}
        return await self._exchange(session, body, wait)

    def _online(self, hub_id: str, message: str) -> HubSession:
        session = self.sessions.get(hub_id)
        if session is None or not session.online or self._mqtt is None or not self.connected:
            raise HubOffline(message)
        return session

    async def _exchange(
        self, session: HubSession, body: dict[str, Any], limit: float
    ) -> dict[str, Any]:
        """Send a command and wait for its ACK; a refusal raises what it means."""
        command_id = str(body["command_id"])
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        session.pending[command_id] = future
        try:
            if not self._send(session, body, "command"):
                raise HubOffline("The connection to the hub's broker is down")
            try:
                ack = await asyncio.wait_for(asyncio.shield(future), limit + 2.0)
            except TimeoutError:
                raise HubCommandFailed(
                    f"The hub did not acknowledge '{body['action']}' within {limit:g} s"
                ) from None
        finally:
            session.pending.pop(command_id, None)
        if ack.get("ok"):
            return ack
        error = ack.get("error") or {}
        message = str(error.get("message") or "The hub refused the command")
        kind = error.get("kind")
        if kind == "capability":
            raise CapabilityMissing(message)
        if kind == "unreachable":
            raise HubOffline(message)
        raise HubCommandFailed(message, code=str(error.get("code") or "") or None)

    async def printers_changed(self, hub_id: str) -> None:
        session = self.sessions.get(hub_id)
        if session is None:
            await self.refresh_hubs()
            session = self.sessions.get(hub_id)
        if session is not None and session.online:
            await self._send_config(session)

    # --- MQTT events -----------------------------------------------------------------------
    def _on_connect(self) -> None:
        assert self._mqtt is not None
        self._mqtt.subscribe(f"{protocol.PREFIX}/+/up/#")
        now = time.monotonic()
        for session in self.sessions.values():  # grace: hubs need a moment to reconnect too
            session.last_seen = max(session.last_seen, now)
            self._send(session, {}, "ping")  # a hub that knew an older server shakes hands
        _LOGGER.info("hub link connected to %s", redact(self.broker_url))

    def _on_disconnect(self) -> None:
        """The broker went away (restart?): keep hub sessions, fail what awaits an ACK."""
        _LOGGER.warning("hub link lost the broker; reconnecting")
        self._link_drops += 1
        for session in self.sessions.values():
            self._fail_pending(
                session,
                HubCommandFailed("The broker connection dropped before the hub acknowledged"),
            )

    def _on_message(self, name: str, payload: bytes) -> None:
        parsed = protocol.parse_topic(name)
        if parsed is None:
            return
        key, parts = parsed
        session = self._by_key.get(key)
        if session is None:
            now = time.monotonic()
            if now - self._last_unknown_refresh > UNKNOWN_REFRESH_SECONDS:
                self._last_unknown_refresh = now  # anyone may publish: read the DB rarely
                self._spawn(self._unknown_key(key))
            return
        if parts[:1] != ("up",) or len(parts) != 2:
            return
        try:
            opened = session.channel.open(name, payload)
            body = json.loads(opened.body)
        except (SealError, ValueError):
            _LOGGER.debug("hub %s: unauthenticated message on %s dropped", session.hub_id, name)
            return
        if not isinstance(body, dict):
            return
        kind = parts[1]
        now = time.monotonic()
        if kind == "hello":
            session.hello = body
            self._send(session, session.channel.on_hello(opened, body), "welcome")
            return
        if kind == "ready":
            if session.channel.on_ready(opened, body):
                self._hub_ready(session, now)
            return
        if kind == "status":  # the last will: from the hub's session, replays only cost a ping
            if body.get("online") is False and session.channel.from_peer(opened):
                self._spawn(self._confirm_will(session, now, self._link_drops))
            return
        if not session.channel.fresh(opened):
            _LOGGER.debug("hub %s: replayed or stale message on %s dropped", session.hub_id, name)
            return
        if kind in ("heartbeat", "state", "ack"):
            session.last_seen = now
        if kind == "heartbeat":
            if not session.online:
                self._spawn(self._came_online(session, body, hello=False))
            else:
                self._spawn(self._touch(session))
        elif kind == "state":
            self._relay_state(session, body)
        elif kind == "ack":
            future = session.pending.get(str(body.get("command_id")))
            if future is not None and not future.done():
                future.set_result(body)

    def _hub_ready(self, session: HubSession, now: float) -> None:
        """The handshake completed: the hub proved it holds the token."""
        session.last_seen = now
        body = session.hello
        session.heartbeat = float(body.get("heartbeat_seconds") or protocol.HEARTBEAT_SECONDS)
        new_session = str(body.get("session") or "")
        if session.session and new_session != session.session:
            # the hub restarted: what the old process was doing will never be acknowledged
            self._fail_pending(session, HubOffline("The hub restarted before acknowledging"))
        session.session = new_session
        self._spawn(self._came_online(session, body, hello=True))

    async def _confirm_will(self, session: HubSession, at: float, drops: int) -> None:
        await asyncio.sleep(WILL_CONFIRM_SECONDS)
        if self._link_drops != drops or not self.connected:
            return  # the broker went down with everybody's wills: not the hub's fault
        if session.last_seen > at:
            return  # it is back already
        await self._went_offline(session, "the hub disconnected")

    async def _unknown_key(self, key: str) -> None:
        """A hub created after start-up: learn it, once."""
        await self.refresh_hubs()
        if key not in self._by_key:
            _LOGGER.debug("message from unknown hub key %s ignored", key)

    def _relay_state(self, session: HubSession, body: dict[str, Any]) -> None:
        printer_id = str(body.get("printer_id"))
        if self.manager.remote_printers.get(printer_id) != session.hub_id:
            return  # not this hub's printer
        try:
            state = protocol.state_from_dict(body.get("state") or {})
        except (KeyError, TypeError, ValueError):
            _LOGGER.warning("hub %s sent a malformed state", session.hub_id)
            return
        session.printers.add(printer_id)
        self.telemetry.on_state(printer_id, state)

    # --- state changes ---------------------------------------------------------------------
    async def _came_online(self, session: HubSession, body: dict[str, Any], *, hello: bool) -> None:
        was_online = session.online
        session.online = True
        now = utcnow()
        values: dict[str, Any] = {"is_online": True, "last_seen_at": now, "updated_at": now}
        if hello and body.get("version"):
            values["firmware_version"] = str(body["version"])[:50]
        if hello and body.get("hardware"):
            values["hardware_version"] = str(body["hardware"])[:50]
        async with self.farm.db.begin() as conn:
            claimed = await conn.scalar(
                select(hubs.c.claimed_at).where(hubs.c.id == session.hub_id)
            )
            if claimed is None:
                values["claimed_at"] = now
            await conn.execute(update(hubs).where(hubs.c.id == session.hub_id).values(**values))
            if not was_online:
                await self.farm.events.emit(conn, "hub.online", {"hub_id": session.hub_id})
        await self._send_config(session)

    async def _touch(self, session: HubSession) -> None:
        now = utcnow()
        async with self.farm.db.begin() as conn:
            await conn.execute(
                update(hubs)
                .where(hubs.c.id == session.hub_id)
                .values(is_online=True, last_seen_at=now)
            )

    async def _went_offline(self, session: HubSession, why: str) -> None:
        if not session.online:
            return
        session.online = False
        _LOGGER.warning("hub %s is offline: %s", session.hub_id, why)
        self._fail_pending(
            session, HubOffline(f"The hub went offline ({why}) before acknowledging")
        )
        for printer_id, hub_id in self.manager.remote_printers.items():
            if hub_id == session.hub_id:
                self.telemetry.on_state(printer_id, PrinterState())
        async with self.farm.db.begin() as conn:
            await conn.execute(
                update(hubs)
                .where(hubs.c.id == session.hub_id)
                .values(is_online=False, updated_at=utcnow())
            )
            await self.farm.events.emit(
                conn, "hub.offline", {"hub_id": session.hub_id, "reason": why}
            )

    async def _send_config(self, session: HubSession) -> None:
        async with self.farm.db.read() as conn:
            rows = (
                (
                    await conn.execute(
                        select(printers.c.id, printers.c.protocol, printers.c.connection).where(
                            printers.c.hub_id == session.hub_id, printers.c.is_active.is_(True)
                        )
                    )
                )
                .mappings()
                .all()
            )
        config = {
            "hub_id": session.hub_id,
            "server_id": self.farm.server_id,
            "printers": [
                {"id": r["id"], "protocol": r["protocol"], "connection": r["connection"] or {}}
                for r in rows
            ],
        }
        self._send(session, config, "config")

    def _fail_pending(self, session: HubSession, error: Exception) -> None:
        for future in session.pending.values():
            if not future.done():
                future.set_exception(error)

    async def _watch(self) -> None:
        """Heartbeats stopped: the hub is offline (its last will may never arrive)."""
        while True:
            await asyncio.sleep(WATCHDOG_SECONDS)
            if not self.connected:
                continue  # cannot hear anybody: do not blame the hubs
            now = time.monotonic()
            for session in tuple(self.sessions.values()):
                if (
                    session.online
                    and now - session.last_seen > session.heartbeat * protocol.MISSED_HEARTBEATS
                ):
                    await self._went_offline(session, "no heartbeat")

    def _spawn(self, coro: Any) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                _LOGGER.exception("hub link task failed")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
