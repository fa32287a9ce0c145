"""A scripted PrinterControl for testing the spine's state machine without drivers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from apf_core.domain.control import (
    CapabilityMissing,
    CommandAck,
    HubCommandFailed,
    HubOffline,
    PrinterCommand,
)
from apf_core.drivers.base import PowerDevice


@dataclass
class ScriptedControl:
    """Every printer is online; commands ACK unless ``fail_with`` or ``delay`` says otherwise."""

    online: bool = True
    fail_with: Exception | None = None
    delay: float = 0.0
    sent: list[tuple[str, PrinterCommand]] = field(default_factory=list)
    #: the printers' power devices (None: no ``[power]`` devices); there is no camera
    power: list[PowerDevice] | None = None

    def is_online(self, printer_id: str) -> bool:
        return self.online

    async def execute(
        self, printer_id: str, command: PrinterCommand, *, timeout: float = 30.0
    ) -> CommandAck:
        self.sent.append((printer_id, command))
        if not self.online:
            raise HubOffline("Printer hub is not connected")
        if self.delay:
            try:
                await asyncio.wait_for(asyncio.sleep(self.delay), timeout)
            except TimeoutError:
                raise HubCommandFailed("Printer did not acknowledge in time") from None
        if self.fail_with is not None:
            raise self.fail_with
        return CommandAck(command.command_id)

    async def query(self, printer_id: str, what: str, *, timeout: float = 30.0) -> Any:
        if not self.online:
            raise HubOffline("Printer hub is not connected")
        if what == "power_devices" and self.power is not None:
            return list(self.power)
        if what == "power_devices":
            raise CapabilityMissing("printer does not support: power")
        raise HubOffline("No driver is running for this printer")
