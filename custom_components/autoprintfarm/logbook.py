"""Logbook descriptions of autoprintfarm_event, translated (strings.json, common.logbook_*)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import translation

from .const import DOMAIN, EVENT_APF


def _placeholders(data: Mapping[str, Any]) -> dict[str, str]:
    def opt(prefix: str, key: str) -> str:
        value = data.get(key)
        return f"{prefix}{value}" if value not in (None, "") else ""

    spool = " ".join(str(data[k]) for k in ("brand", "type", "color") if data.get(k))
    return {
        "file": opt(" ", "file_name"),
        "reason": opt(": ", "failure_reason"),
        "error": opt(": ", "error"),
        "sku": str(data.get("sku") or "an item"),
        "stock": str(data.get("ready_stock", "?")),
        "spool": spool or str(data.get("id", "")),
        "grams": str(data.get("remaining_grams", "?")),
        "order": str(data.get("order_number") or data.get("id") or ""),
    }


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe autoprintfarm events in the logbook."""
    registry = dr.async_get(hass)
    # The describer is synchronous: load the texts now, read them from the cache later.
    hass.async_create_task(
        translation.async_get_translations(hass, hass.config.language, "common", [DOMAIN]),
        eager_start=True,
    )

    @callback
    def describe(event: Event) -> dict[str, str]:
        texts = translation.async_get_cached_translations(
            hass, hass.config.language, "common", DOMAIN
        )
        prefix = f"component.{DOMAIN}.common."
        device = registry.async_get(event.data.get("device_id") or "")
        name = (device.name_by_user or device.name) if device else None
        kind = str(event.data.get("type", ""))
        payload = event.data.get("data")
        template = texts.get(f"{prefix}logbook_{kind}", kind.replace("_", " "))
        message = template.format(**_placeholders(payload if isinstance(payload, Mapping) else {}))
        farm = texts.get(f"{prefix}logbook_farm", "AutoPrintFarm")
        return {LOGBOOK_ENTRY_NAME: name or farm, LOGBOOK_ENTRY_MESSAGE: message}

    async_describe_event(DOMAIN, EVENT_APF, describe)
