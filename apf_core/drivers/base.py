"""The one interface every printer driver implements.

A driver owns the connection to one printer. It keeps a normalised
:class:`PrinterState` up to date and calls its listener on every change;
commands are coroutines that return once the printer acknowledged them and
raise a :class:`DriverError` subclass otherwise.
"""

from __future__ import annotations

import abc
import enum
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


class Capability(enum.StrEnum):
    """What a printer can do beyond printing a file."""

    LIGHT = "light"
    CHAMBER_TEMP = "chamber_temp"
    AMS = "ams"
    FILAMENT_LOAD = "filament_load"
    HOME = "home"
    GCODE = "gcode"
    HEATERS = "heaters"
    PAUSE_RESUME = "pause_resume"


class Status(enum.StrEnum):
    """Normalised printer status (see printer-protocols.md, section 0)."""

    OFFLINE = "offline"
    IDLE = "idle"
    PREPARING = "preparing"
    PRINTING = "printing"
    PAUSING = "pausing"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Tray:
    """A filament slot: AMS trays are ``ams_id * 4 + tray``; 254 is the external spool."""

    tray_id: int
    filament_type: str | None = None
    color_hex: str | None = None
    remaining_percent: float | None = None


@dataclass(frozen=True, slots=True)
class PrinterState:
    """A normalised snapshot. ``None`` means unknown or not reported."""

    status: Status = Status.OFFLINE
    nozzle_temp: float | None = None
    nozzle_target: float | None = None
    bed_temp: float | None = None
    bed_target: float | None = None
    chamber_temp: float | None = None
    progress: float | None = None  # percent 0..100
    layer_num: int | None = None
    total_layers: int | None = None
    remaining_time_minutes: int | None = None
    current_file: str | None = None
    light_on: bool | None = None
    trays: tuple[Tray, ...] = ()
    active_tray: int | None = None
    error: str | None = None
    error_code: int | None = None

    def evolve(self, **changes: Any) -> PrinterState:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Where a printer is and how to log in. Secrets never leave the server."""

    protocol: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print secrets
        return f"ConnectionConfig(protocol={self.protocol!r}, options=<redacted>)"


def http_base_url(protocol: str, options: Mapping[str, Any]) -> str:
    """The printer's HTTP base: ``options["url"]``, or ``http://host:port`` (port 80)."""
    url = options.get("url")
    if url:
        return str(url).rstrip("/")
    host = options.get("host")
    if not host:
        raise ValueError(f"{protocol}: set 'url' or 'host'")
    return f"http://{host}:{int(options.get('port', 80))}"


class DriverError(Exception):
    """A command failed. ``str(err)`` is safe to show to an API client."""


class PrinterUnreachable(DriverError):
    """The printer cannot be reached (connection refused, timeout, auth)."""


class AuthenticationFailed(PrinterUnreachable):
    """The printer rejected the credentials."""


class CommandTimeout(DriverError):
    """The printer did not acknowledge in time."""


class CapabilityNotSupported(DriverError):
    """The printer lacks what the command needs."""

    def __init__(self, capability: Capability) -> None:
        super().__init__(f"printer does not support: {capability.value}")
        self.capability = capability


StateListener = Callable[[PrinterState], None]


class PrinterDriver(abc.ABC):
    """Base class: subclasses implement the protocol, this class holds the state."""

    protocol: str = ""
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self._state = PrinterState()
        self._listeners: list[StateListener] = []

    @property
    def state(self) -> PrinterState:
        return self._state

    def add_listener(self, listener: StateListener) -> Callable[[], None]:
        """Call ``listener`` on every state change; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _set_state(self, state: PrinterState) -> None:
        if state == self._state:
            return
        self._state = state
        for listener in tuple(self._listeners):
            listener(state)

    def _update(self, **changes: Any) -> None:
        self._set_state(self._state.evolve(**changes))

    def require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise CapabilityNotSupported(capability)

    # --- lifecycle -------------------------------------------------------
    @abc.abstractmethod
    async def connect(self) -> None:
        """Start talking to the printer; keeps reconnecting with backoff until :meth:`close`."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop all tasks and release the connection."""

    # --- job control -----------------------------------------------------
    @abc.abstractmethod
    async def start_print(self, path: Path, filename: str) -> None:
        """Upload ``path`` to the printer as ``filename`` and start printing it."""

    @abc.abstractmethod
    async def pause(self) -> None: ...

    @abc.abstractmethod
    async def resume(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    # --- hardware (default: not supported) --------------------------------
    async def set_temperature(self, heater: str, target: float) -> None:
        """``heater`` is ``nozzle``, ``bed`` or ``chamber``."""
        raise CapabilityNotSupported(Capability.HEATERS)

    async def set_light(self, on: bool) -> None:
        raise CapabilityNotSupported(Capability.LIGHT)

    async def load_filament(self, tray_id: int, temperature: float) -> None:
        raise CapabilityNotSupported(Capability.FILAMENT_LOAD)

    async def unload_filament(self) -> None:
        raise CapabilityNotSupported(Capability.FILAMENT_LOAD)

    async def home(self) -> None:
        raise CapabilityNotSupported(Capability.HOME)

    async def send_gcode(self, script: str) -> None:
        raise CapabilityNotSupported(Capability.GCODE)


class Backoff:
    """Reconnect delays that double from ``initial`` up to ``maximum``, with jitter.

    Shared by the network drivers: ``await asyncio.sleep(backoff.next_delay())``
    after a failed attempt, ``backoff.reset()`` after a successful one.
    """

    def __init__(
        self, initial: float = 1.0, maximum: float = 60.0, factor: float = 2.0, jitter: float = 0.1
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._next = initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay * (1.0 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._next = self.initial
