"""A scripted PrinterControl for testing the spine's state machine without drivers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from apf_core.domain.control import CommandAck, HubCommandFailed, HubOffline, PrinterCommand


@dataclass
class ScriptedControl:
    """Every printer is online; commands ACK unless ``fail_with`` or ``delay`` says otherwise."""

    online: bool = True
    fail_with: Exception | None = None
    delay: float = 0.0
    sent: list[tuple[str, PrinterCommand]] = field(default_factory=list)

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
