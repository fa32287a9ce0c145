"""The one interface every printer driver implements.

A driver owns the connection to one printer. It keeps a normalised
:class:`PrinterState` up to date and calls its listener on every change;
commands are coroutines that return once the printer acknowledged them and
raise a :class:`DriverError` subclass otherwise.
"""

from __future__ import annotations

import abc
import enum
import logging
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..net.redact import redact
from ..net.urls import printer_url_from_options


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
    CAMERA = "camera"
    POWER = "power"
    SPEED = "speed"


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
    #: which unit (AMS/MMU number) and slot in it; None for a lone external spool
    unit: int | None = None
    slot: int | None = None


#: the tray ids a printer may have: four AMS units of four trays (0-15), AMS HT units
#: (128-135, one tray each: the tray id is the unit id), the external spool 254 and
#: H2D's second external spool 255
AMS_TRAY_IDS = range(16)
AMS_HT_TRAY_IDS = range(128, 136)
EXTERNAL_TRAY_IDS = (254, 255)


def possible_tray_id(tray_id: int) -> bool:
    return tray_id in AMS_TRAY_IDS or tray_id in AMS_HT_TRAY_IDS or tray_id in EXTERNAL_TRAY_IDS


class Severity(enum.StrEnum):
    """How serious a printer message is (Bambu HMS levels, PrusaLink attention, firmware errors)."""

    FATAL = "fatal"
    SERIOUS = "serious"
    COMMON = "common"
    INFO = "info"

    @property
    def api(self) -> str:
        """The API's word for it (``messages[].severity``): serious is error, common warning."""
        return _API_SEVERITY[self.value]


#: ``messages[].severity`` in the API and events, least serious first
MESSAGE_SEVERITIES = ("info", "warning", "error", "fatal")
_API_SEVERITY = {"fatal": "fatal", "serious": "error", "common": "warning", "info": "info"}


@dataclass(frozen=True, slots=True)
class PrinterMessage:
    """Something the printer says besides its print state: a reason attached to it, not a state."""

    code: str
    severity: Severity
    text: str
    url: str | None = None


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
    messages: tuple[PrinterMessage, ...] = ()
    chamber_target: float | None = None
    #: why the printer is offline, in words and without credentials
    #: ("401 from Moonraker: wrong API key")
    offline_reason: str | None = None
    #: print speed: a Bambu level name (``silent``...``ludicrous``) and/or a percentage
    speed_level: str | None = None
    speed_percent: int | None = None

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
    """The printer's HTTP base (no user-info, query or fragment): ``options["url"]``,
    or ``http://host:port`` (port 80). See :mod:`apf_core.net.urls`."""
    return printer_url_from_options(protocol, options).base


_LOGGER = logging.getLogger(__name__)


class DriverError(Exception):
    """A command failed. ``str(err)`` is safe to show to an API client.

    ``code`` names the failure for API clients when it is more specific than
    "the printer refused" (``COMMAND_IGNORED``, ``AMS_MAPPING_UNSATISFIABLE``...).
    """

    code: str | None = None

    def __init__(self, message: str = "", code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class CommandIgnored(DriverError):
    """The printer neither confirmed the command nor changed its state in the allowed time."""

    code = "COMMAND_IGNORED"


class PrinterUnreachable(DriverError):
    """The printer cannot be reached (connection refused, timeout, auth)."""


class AuthenticationFailed(PrinterUnreachable):
    """The printer rejected the credentials."""


class CommandTimeout(DriverError):
    """The printer did not acknowledge in time."""


class CapabilityNotSupported(DriverError):
    """The printer lacks what the command needs."""

    code = "CAPABILITY_NOT_SUPPORTED"

    def __init__(self, capability: Capability, reason: str | None = None) -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(f"printer does not support: {capability.value}{detail}")
        self.capability = capability
        self.reason = reason


@dataclass(frozen=True, slots=True)
class StartOptions:
    """Per-job start settings; ``None`` means "derive it" (Bambu: from the file and the trays).

    ``ams_mapping`` lists, per filament of the file (1-based id - 1), the tray to use.
    """

    plate: int | None = None
    use_ams: bool | None = None
    ams_mapping: tuple[int, ...] | None = None
    task_id: str | None = None


@dataclass(frozen=True, slots=True)
class PowerDevice:
    """A switchable power device the printer host controls (Moonraker ``[power]``)."""

    name: str
    on: bool | None
    locked_while_printing: bool = False


#: print-speed levels (Bambu's four), and the percentage each one stands for elsewhere (M220)
SPEED_LEVELS = {"silent": 50, "standard": 100, "sport": 124, "ludicrous": 166}

_SECRET_IN_TEXT = re.compile(
    r"(?i)(api[_-]?key|access[_-]?code|password|token|authorization)([\"']?\s*[:=]\s*)[^\s,;&'\"]+"
)


def scrub(text: str) -> str:
    """Remove credentials from a message meant for logs or the status API."""
    return redact(_SECRET_IN_TEXT.sub(r"\1\2<redacted>", text))


StateListener = Callable[[PrinterState], None]


class PrinterDriver(abc.ABC):
    """Base class: subclasses implement the protocol, this class holds the state."""

    protocol: str = ""
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self._state = PrinterState()
        self._listeners: list[StateListener] = []
        self._logged_offline_reason: str | None = None

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

    def _go_offline(self, reason: str | None, *, keep: bool = False) -> None:
        """Mark the printer offline with ``reason`` (logged once at WARNING, scrubbed).

        ``keep`` keeps the last readings (temperatures, trays) instead of clearing them.
        """
        text = scrub(reason) if reason else None
        if text and text != self._logged_offline_reason:
            _LOGGER.warning("%s printer %s is offline: %s", self.protocol, self.label, text)
        self._logged_offline_reason = text
        base = self._state if keep else PrinterState()
        self._set_state(base.evolve(status=Status.OFFLINE, error=text, offline_reason=text))

    def _back_online(self) -> None:
        self._logged_offline_reason = None

    @property
    def label(self) -> str:
        """How logs name this printer (its address, never its credentials)."""
        options = self.config.options
        where = options.get("url") or options.get("host") or "?"
        return scrub(str(where))

    # --- lifecycle -------------------------------------------------------
    @abc.abstractmethod
    async def connect(self) -> None:
        """Start talking to the printer; keeps reconnecting with backoff until :meth:`close`."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop all tasks and release the connection."""

    # --- job control -----------------------------------------------------
    @abc.abstractmethod
    async def start_print(
        self, path: Path, filename: str, options: StartOptions | None = None
    ) -> None:
        """Upload ``path`` to the printer as ``filename`` and start printing it."""

    def start_timeout(self, size_bytes: int, default: float) -> float:
        """How long :meth:`start_print` may take for a file of ``size_bytes``."""
        return default

    def clear_result(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Forget a finished, cancelled or failed job so the printer reads idle again.

        Called when the operator clears the bed. Drivers whose printer keeps the last
        job's outcome (Bambu ``FINISH``/``FAILED``, Klipper ``error``, OctoPrint's stored
        result) override it.
        """

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

    async def cooldown(self) -> None:
        """Switch every heater off."""
        self.require(Capability.HEATERS)
        await self.set_temperature("nozzle", 0)
        await self.set_temperature("bed", 0)
        if Capability.CHAMBER_TEMP in self.capabilities:
            await self.set_temperature("chamber", 0)

    async def set_speed(self, level: str) -> None:
        """Print speed by level (``silent``, ``standard``, ``sport``, ``ludicrous``)."""
        raise CapabilityNotSupported(Capability.SPEED)

    async def snapshot(self) -> bytes:
        """One JPEG from the printer's camera."""
        raise CapabilityNotSupported(Capability.CAMERA)

    async def power_devices(self) -> list[PowerDevice]:
        raise CapabilityNotSupported(Capability.POWER)

    async def set_power(self, device: str, on: bool) -> None:
        raise CapabilityNotSupported(Capability.POWER)


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
