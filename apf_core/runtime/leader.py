"""Runtime: which process leads the farm.

Several ``apf serve`` processes may share one PostgreSQL database. All of them serve
the API and the event stream; exactly one, the *leader*, runs the parts that must be
single: the printer drivers, the remote-hub link, the webhook worker and the
dispatcher (:data:`apf_core.wiring.LEADER_PARTS`).

Leadership is a PostgreSQL session-level advisory lock (key: the database and schema,
:attr:`~apf_core.storage.db.Database.farm_key`) held on a dedicated connection for as
long as the process leads. A follower tries to take it every :data:`RETRY_SECONDS`;
when the leader dies its session ends, the lock is free and a follower takes over.
The leader probes its connection every :data:`PROBE_SECONDS`: if the connection is
lost it stops its leader parts at once, since it may no longer hold the lock, and
leaves the lock to the others for a few seconds (no flapping back). The
same connection LISTENs for the farm's NOTIFY channels (event wake-ups, relayed
printer commands). On SQLite the one process always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..aio import cancel_and_wait
from ..domain.control import PrinterControl
from .mirror import LiveMirror
from .relay import CommandRelay

if TYPE_CHECKING:
    from ..farm import Farm, Stopper

_LOGGER = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
RECONNECT_SECONDS = 0.2
PROBE_SECONDS = 1.0
PROBE_TIMEOUT = 2.0
#: the server drops a silent client's session (and the lock) after about 5 + 2 * 3 s
SESSION_KEEPALIVES = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
    "application_name": "apf leadership",
}

StartStep = Callable[["Farm"], Awaitable["Stopper | None"]]
Listener = Callable[[str], None]


class Leadership:
    """Holds (or waits for) the farm's leader lock and runs the leader parts."""

    def __init__(self, farm: Farm, parts: Sequence[StartStep], follower: PrinterControl) -> None:
        self.farm = farm
        self.parts = tuple(parts)
        #: ``farm.control`` while this process follows (relays commands to the leader)
        self.follower_control = follower
        self.is_leader = False
        self._stoppers: list[Stopper] = []
        self._listeners: dict[str, Listener] = {}
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._announced = False
        self._conn: Any = None
        self._hold_off_until = 0.0
        self.farm.control = follower

    @property
    def role(self) -> str:
        return "leader" if self.is_leader else "follower"

    def listen(self, channel: str, callback: Listener) -> None:
        """Call ``callback(payload)`` for each NOTIFY on ``channel`` (PostgreSQL only)."""
        self._listeners[channel] = callback

    async def start(self) -> None:
        """Lead at once when the lock is free (so a lone server starts complete)."""
        if self.farm.db.dialect != "postgresql":
            await self._lead()
            return
        conn: Any = None
        try:
            conn = await self._connect()
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.farm.db.farm_key):
                await self._lead()
        except Exception as err:  # the loop retries
            _LOGGER.warning("leadership connection to PostgreSQL failed: %s", err)
            await self._close(conn)
            conn = None
        self._task = asyncio.create_task(self._run(conn), name="apf leadership")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        # in the caller's task (not the cancelled one), and before the lock is let go
        await self._step_down(shutdown=True)
        conn, self._conn = self._conn, None
        await self._close(conn)

    async def _run(self, conn: Any) -> None:
        key = self.farm.db.farm_key
        warned = False
        while True:
            try:
                if conn is None:
                    conn = await self._connect()
                warned = False
                while True:
                    if not self.is_leader and time.monotonic() >= self._hold_off_until:
                        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                            await self._lead()
                        elif not self._announced:
                            self._announced = True
                            _LOGGER.info("another process leads the farm: this one follows")
                    if self.is_leader:
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), PROBE_TIMEOUT)
                    with contextlib.suppress(TimeoutError):
                        pause = PROBE_SECONDS if self.is_leader else RETRY_SECONDS
                        await asyncio.wait_for(self._lost.wait(), pause)
                    if self._lost.is_set():
                        raise ConnectionError("the leadership connection closed")
            except asyncio.CancelledError:  # shutting down: stop() stops the parts, then lets go
                raise
            except Exception as err:
                if not warned or self.is_leader:
                    _LOGGER.warning("leadership connection to PostgreSQL failed: %s", err)
                warned = True
            if self.is_leader:  # let another process take over rather than flap back
                self._hold_off_until = time.monotonic() + 2 * RETRY_SECONDS
            await self._step_down()  # the lock may be gone with the connection
            was_connected, self._conn = conn is not None, None
            await self._close(conn)
            conn = None
            # a connection that was up is reopened at once (LISTEN matters to followers too)
            await asyncio.sleep(RECONNECT_SECONDS if was_connected else RETRY_SECONDS)

    @property
    def listening(self) -> bool:
        """True while this process receives the farm's NOTIFYs (always on SQLite)."""
        if self.farm.db.dialect != "postgresql":
            return True
        return self._conn is not None and not self._conn.is_closed()

    async def _connect(self) -> Any:
        self._lost.clear()
        conn = await self.farm.db.connect_raw(**SESSION_KEEPALIVES)
        conn.add_termination_listener(lambda _conn: self._lost.set())
        for channel, callback in self._listeners.items():
            await conn.add_listener(channel, _notification(callback))
        self._conn = conn
        return conn

    @staticmethod
    async def _close(conn: Any) -> None:
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), PROBE_TIMEOUT)
        except Exception:  # a dead connection: drop it
            conn.terminate()

    async def _lead(self) -> None:
        """Start the leader parts; the role says ``leader`` once they all run."""
        if self.is_leader:
            return
        self._announced = False
        try:
            for start in self.parts:
                stop = await start(self.farm)
                if stop is not None:
                    self._stoppers.append(stop)
        except BaseException:
            await self._stop_parts()
            raise
        self.is_leader = True
        _LOGGER.info("this process leads the farm: it runs the dispatcher and printer drivers")

    async def _step_down(self, *, shutdown: bool = False) -> None:
        was_leader, self.is_leader = self.is_leader, False
        await self._stop_parts()
        if was_leader and not shutdown:
            _LOGGER.info("this process stopped leading: it runs no dispatcher or drivers now")

    async def _stop_parts(self) -> None:
        if not self._stoppers:
            return
        while self._stoppers:
            stop = self._stoppers.pop()
            try:
                await stop()
            except Exception:
                _LOGGER.exception("error while stopping a leader part")
        farm = self.farm
        farm.control = self.follower_control
        farm.drivers = farm.telemetry = farm.reload_printers = None
        farm.hub_link = farm.dispatcher = None


def _notification(callback: Listener) -> Callable[[Any, int, str, str], None]:
    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            callback(payload)
        except Exception:
            _LOGGER.exception("NOTIFY handler failed")

    return on_notify


async def start(farm: Farm, parts: Sequence[StartStep]) -> Stopper:
    """Sets ``farm.leadership``; follower processes relay commands and mirror live state."""
    relay = CommandRelay(farm)
    leadership = Leadership(farm, parts, relay)
    mirror = LiveMirror(farm, lambda: not leadership.is_leader)
    unsubscribe = farm.events.subscribe(mirror.on_event)
    if farm.event_hub is not None:
        leadership.listen(farm.events.channel, farm.event_hub.notified)
    leadership.listen(relay.command_channel, relay.on_command)
    leadership.listen(relay.reply_channel, relay.on_reply)
    relay.ready = lambda: leadership.listening
    farm.leadership = leadership
    await leadership.start()
    await mirror.seed()

    async def stop() -> None:
        unsubscribe()
        await leadership.stop()
        await relay.stop()
        farm.leadership = None

    return stop
