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
lost it stops its leader parts at once, since it may no longer hold the lock. The
same connection LISTENs for the farm's NOTIFY channels (event wake-ups, relayed
printer commands). On SQLite the one process always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..domain.control import PrinterControl
from .mirror import LiveMirror
from .relay import CommandRelay

if TYPE_CHECKING:
    from ..farm import Farm, Stopper

_LOGGER = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down(shutdown=True)

    async def _run(self, conn: Any) -> None:
        key = self.farm.db.farm_key
        warned = False
        while True:
            try:
                if conn is None:
                    conn = await self._connect()
                warned = False
                while True:
                    if not self.is_leader:
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
            except asyncio.CancelledError:
                await self._close(conn)
                raise
            except Exception as err:
                if not warned or self.is_leader:
                    _LOGGER.warning("leadership connection to PostgreSQL failed: %s", err)
                warned = True
            await self._step_down()  # the lock may be gone with the connection
            await self._close(conn)
            conn = None
            await asyncio.sleep(RETRY_SECONDS)

    async def _connect(self) -> Any:
        self._lost.clear()
        conn = await self.farm.db.connect_raw(**SESSION_KEEPALIVES)
        conn.add_termination_listener(lambda _conn: self._lost.set())
        for channel, callback in self._listeners.items():
            await conn.add_listener(channel, _notification(callback))
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
        if self.is_leader:
            return
        self.is_leader = True
        self._announced = False
        try:
            for start in self.parts:
                stop = await start(self.farm)
                if stop is not None:
                    self._stoppers.append(stop)
        except BaseException:
            await self._step_down()
            raise
        _LOGGER.info("this process leads the farm: it runs the dispatcher and printer drivers")

    async def _step_down(self, *, shutdown: bool = False) -> None:
        if not self.is_leader:
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
        self.is_leader = False
        if not shutdown:
            _LOGGER.info("this process stopped leading: it runs no dispatcher or drivers now")


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
    farm.leadership = leadership
    await leadership.start()
    await mirror.seed()

    async def stop() -> None:
        unsubscribe()
        await leadership.stop()
        await relay.stop()
        farm.leadership = None

    return stop
