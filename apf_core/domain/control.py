"""The printer-command interface the domain services talk to.

Routes never talk to drivers. Services build a :class:`PrinterCommand` and hand
it to the farm's :class:`PrinterControl`. Until a driver layer is attached,
:class:`OfflineControl` answers every command with ``HubOffline``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class PrinterCommand:
    """One physical command.

    ``action`` is one of: start, pause, resume, stop, light, temperature,
    filament_load, filament_unload, home, gcode, cooldown, speed, power, clear_result.
    ``params`` by action: start {path, filename}; light {on}; temperature
    {heater, target}; filament_load {tray_id, temperature}; gcode {script};
    speed {level}; power {device, on}. ``start`` may also carry plate, use_ams,
    ams_mapping and task_id (Bambu per-job start).
    """

    action: str
    params: dict[str, Any] = field(default_factory=dict)
    command_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True, slots=True)
class CommandAck:
    command_id: str


class ControlError(Exception):
    """Base of command failures; ``str()`` is safe for API clients.

    ``code`` (optional) names the failure more precisely than the class, e.g.
    ``DEVELOPER_MODE_REQUIRED`` or ``AMS_MAPPING_UNSATISFIABLE``.
    """

    def __init__(self, message: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class HubOffline(ControlError):
    """No connected hub or driver can reach the printer."""


class HubCommandFailed(ControlError):
    """The printer refused the command, or did not acknowledge it in time."""


class PrinterControl(Protocol):
    def is_online(self, printer_id: str) -> bool:
        """True when a driver for the printer is connected right now."""
        ...

    async def execute(
        self, printer_id: str, command: PrinterCommand, *, timeout: float = 30.0
    ) -> CommandAck:
        """Send ``command`` and wait for the printer's acknowledgement.

        Raises :class:`HubOffline`, :class:`HubCommandFailed`, or
        :class:`CapabilityMissing`.
        """
        ...


class CapabilityMissing(HubCommandFailed):
    """The printer cannot do what was asked (no light, no AMS, ...)."""


class OfflineControl:
    """The control used until a driver layer is attached: everything is offline."""

    def is_online(self, printer_id: str) -> bool:
        return False

    async def execute(
        self, printer_id: str, command: PrinterCommand, *, timeout: float = 30.0
    ) -> CommandAck:
        raise HubOffline("Printer hub is not connected")
