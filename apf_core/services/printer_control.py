"""Manual printer control (home, cooldown, G-code, speed, power): checks, then one command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..domain.control import PrinterCommand
from ..drivers.base import CapabilityNotSupported, DriverError, PrinterUnreachable
from ..errors import BadRequest, Conflict, ServiceUnavailable
from ..storage.tables.spine import jobs
from .printers import PrinterService

if TYPE_CHECKING:
    from ..farm import Farm

#: actions that would spoil a running print
UNSAFE_WHILE_PRINTING = frozenset({"home", "gcode", "power"})
_PRINTING_JOBS = ("printing", "paused", "processing")


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
        ack = await self.printers.send(printer_id, PrinterCommand(action, dict(params or {})))
        return {"printer_id": printer_id, "action": action, "command_id": ack, **(params or {})}

    async def snapshot(self, printer_id: str) -> bytes:
        """One JPEG from the printer's camera (printers driven by this server's hub)."""
        await self.printers.get(printer_id)  # 404 PRINTER_NOT_FOUND
        lookup = getattr(self.farm.control, "driver", None)
        driver = lookup(printer_id) if callable(lookup) else None
        if driver is None:
            raise ServiceUnavailable("No driver is running for this printer", code="HUB_OFFLINE")
        try:
            image: bytes = await driver.snapshot()
            return image
        except CapabilityNotSupported as err:
            raise BadRequest(str(err), code="CAPABILITY_NOT_SUPPORTED") from None
        except PrinterUnreachable as err:
            raise ServiceUnavailable(str(err), code="HUB_OFFLINE") from None
        except DriverError as err:
            raise ServiceUnavailable(str(err), code="HUB_COMMAND_FAILED") from None
