"""Constants for the AutoPrintFarm integration."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

DOMAIN: Final = "autoprintfarm"
LOGGER = logging.getLogger(__package__)

CONF_SCAN_INTERVAL: Final = "scan_interval"
DEFAULT_SCAN_INTERVAL: Final = 30  # seconds, polling while the event stream is down
MIN_SCAN_INTERVAL: Final = 5
MAX_SCAN_INTERVAL: Final = 3600
PUSH_SAFETY_INTERVAL: Final = timedelta(minutes=5)  # polling while the stream is live
STOCK_INTERVAL: Final = timedelta(minutes=5)
PUSH_MAX_BACKOFF: Final = 60.0

EVENT_APF: Final = "autoprintfarm_event"
SIGNAL_EVENT: Final = "autoprintfarm_event_{entry_id}"

# Stream event types we subscribe to.
STREAM_TYPES: Final = ("job.*", "printer.*", "inventory.*", "material.*", "order.*", "assembly.*")

# Stream event type -> the `type` of our bus event / device trigger.
EVENT_TYPE_MAP: Final[dict[str, str]] = {
    "job.started": "print_started",
    "job.paused": "print_paused",
    "job.resumed": "print_resumed",
    "job.completed": "print_completed",
    "job.failed": "print_failed",
    "job.cancelled": "print_cancelled",
    "printer.online": "printer_online",
    "printer.offline": "printer_offline",
    "printer.error": "printer_error",
    "printer.bed_clear_required": "bed_clear_required",
    "inventory.low_stock": "low_stock",
    "material.low": "filament_low",
    "material.empty": "filament_empty",
    "order.created": "order_created",
    "order.fulfilled": "order_fulfilled",
    "assembly.completed": "assembly_completed",
}
PRINTER_TRIGGERS: Final = (
    "print_started",
    "print_paused",
    "print_resumed",
    "print_completed",
    "print_failed",
    "print_cancelled",
    "printer_online",
    "printer_offline",
    "printer_error",
    "bed_clear_required",
)
FARM_TRIGGERS: Final = (
    "low_stock",
    "filament_low",
    "filament_empty",
    "order_created",
    "order_fulfilled",
    "assembly_completed",
)

# Printer statuses shown by the status sensor (anything else -> unknown).
PRINTER_STATES: Final = [
    "idle",
    "preparing",
    "printing",
    "pausing",
    "paused",
    "cancelling",
    "finished",
    "cancelled",
    "maintenance",
    "error",
    "offline",
]
ACTIVE_STATES: Final = frozenset({"preparing", "printing", "pausing", "paused", "cancelling"})
