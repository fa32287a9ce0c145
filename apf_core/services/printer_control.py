"""Manual printer control (home, cooldown, G-code, speed, power): checks, then one command."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from sqlalchemy import select

from ..domain.control import ControlError, PrinterCommand
from ..drivers.base import PowerDevice
from ..errors import Conflict, ServiceUnavailable, ValidationFailed
from ..storage.tables.spine import jobs
from .printers import PrinterService, control_failure

if TYPE_CHECKING:
    from ..farm import Farm

#: actions that would spoil a running print
UNSAFE_WHILE_PRINTING = frozenset({"home", "gcode", "power"})
#: the manual actions of ``POST /printers/{id}/control`` (the others have routes of their own)
CONTROL_ACTIONS = frozenset({"home", "cooldown"})
_PRINTING_JOBS = ("printing", "paused", "processing")

#: ``GET /printers/{id}/power-devices``
POWER_DEVICES_SCHEMA = vol.Schema(
    {
        vol.Required("printer_id"): str,
        vol.Required("devices"): [
            {
                vol.Required("name"): str,
                vol.Required("on"): vol.Any(None, bool),
                vol.Required("locked_while_printing"): bool,
            }
        ],
    }
)


class PrinterControlService:
    def __init__(self, farm: Farm) -> None:
        self.farm = farm
        self.printers = PrinterService(farm)

    async def manual(
        self, printer_id: str, action: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        stored = await self.printers.get(printer_id)  # 404 PRINTER_NOT_FOUND
        live = self.farm.live.get(printer_id)
        async with self.farm.db.read() as conn:
            job_id = await conn.scalar(
                select(jobs.c.id)
                .where(jobs.c.printer_id == printer_id, jobs.c.status.in_(_PRINTING_JOBS))
                .limit(1)
            )
        printing = job_id is not None or stored.get("status") in ("printing", "paused")
        printing = printing or (
            live is not None and live.online and live.status in ("printing", "paused")
        )
        if printing and action in UNSAFE_WHILE_PRINTING:
            raise Conflict(
                f"Cannot {action} while the printer is printing", code="PRINTER_PRINTING"
            )
        if action == "power":
            await self._check_power_device(printer_id, str((params or {})["device"]))
        ack = await self.printers.send(printer_id, PrinterCommand(action, dict(params or {})))
        done = {"printer_id": printer_id, "action": action, "command_id": ack, **(params or {})}
        if action in CONTROL_ACTIONS:  # answered like pause/resume/stop: with the status
            done["status"] = stored["status"]  # homing or cooling down does not change it
        return done

    async def snapshot(self, printer_id: str) -> bytes:
        """One JPEG from the printer's camera (through its hub when it runs on one)."""
        image: bytes = await self._query(printer_id, "snapshot")
        return image

    async def power_devices(self, printer_id: str) -> dict[str, Any]:
        """The printer host's switchable power devices (Moonraker ``[power]``) and their state."""
        devices: list[PowerDevice] = await self._query(printer_id, "power_devices")
        return {"printer_id": printer_id, "devices": [asdict(d) for d in devices]}

    async def _check_power_device(self, printer_id: str, device: str) -> None:
        names = [d["name"] for d in (await self.power_devices(printer_id))["devices"]]
        if device not in names:
            raise ValidationFailed(
                f"device {device!r} is not a power device of this printer: it has "
                + (", ".join(names) or "none"),
                code="INVALID_DEVICE",
                field="device",
            )

    async def _query(self, printer_id: str, what: str) -> Any:
        await self.printers.get(printer_id)  # 404 PRINTER_NOT_FOUND
        query = getattr(self.farm.control, "query", None)
        if not callable(query):
            raise ServiceUnavailable("No driver is running for this printer", code="HUB_OFFLINE")
        try:
            return await query(printer_id, what, timeout=self.farm.settings.command_timeout_seconds)
        except (ControlError, TimeoutError) as err:
            raise control_failure(err) from None
