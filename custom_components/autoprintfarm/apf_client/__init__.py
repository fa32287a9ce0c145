"""Async, typed client for AutoPrintFarm-compatible servers (public API v1)."""

from .client import API_PREFIX, SPEED_LEVELS, STOCK_REASONS, ApfClient, error_from_response
from .exceptions import (
    APFAuthenticationError,
    APFConnectionError,
    APFError,
    APFEventStreamUnavailable,
    APFInsufficientScopeError,
    APFNotFoundError,
    APFRateLimitError,
    APFResponseError,
)
from .models import (
    CommandResult,
    FarmEvent,
    Filament,
    Hub,
    InventoryItem,
    Job,
    JobStats,
    Order,
    Printer,
    PrinterStatus,
    ServerInfo,
    StockAdjustment,
)
from .parsing import parse_time
from .status_parts import KeyInfo, PrinterMessage, Tray

__all__ = [
    "API_PREFIX",
    "SPEED_LEVELS",
    "STOCK_REASONS",
    "APFAuthenticationError",
    "APFConnectionError",
    "APFError",
    "APFEventStreamUnavailable",
    "APFInsufficientScopeError",
    "APFNotFoundError",
    "APFRateLimitError",
    "APFResponseError",
    "ApfClient",
    "CommandResult",
    "FarmEvent",
    "Filament",
    "Hub",
    "InventoryItem",
    "Job",
    "JobStats",
    "KeyInfo",
    "Order",
    "Printer",
    "PrinterMessage",
    "PrinterStatus",
    "ServerInfo",
    "StockAdjustment",
    "Tray",
    "error_from_response",
    "parse_time",
]
