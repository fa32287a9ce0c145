"""Diagnostics with the key and connection details redacted."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant

from .coordinator import ApfConfigEntry

TO_REDACT = {CONF_API_KEY, CONF_URL, "unique_id", "server_id", "title", "configuration_url"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ApfConfigEntry
) -> dict[str, Any]:
    """Entry, server, coordinator state and the data the entities show."""
    runtime = entry.runtime_data
    farm = runtime.farm
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "server": async_redact_data(_jsonable(asdict(runtime.server)), TO_REDACT),
        "push": {
            "connected": farm.push_connected,
            "supported": farm.push_supported,
            "last_event_id": farm.last_event_id,
            "update_interval": str(farm.update_interval),
        },
        "farm": async_redact_data(_jsonable(asdict(farm.data)), TO_REDACT),
        "stock": async_redact_data(_jsonable(asdict(runtime.stock.data)), TO_REDACT),
    }


def _jsonable(value: Any) -> Any:
    """Sets become sorted lists and datetimes ISO strings, so the output is stable JSON."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(item) for item in value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
