"""Feature-detected shims so one code base runs on HA 2025.4.4 and 2026.x.

Every ``hasattr``/signature check of the integration lives here.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from homeassistant import config_entries
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import UpdateFailed

from .const import DOMAIN

# UpdateFailed(retry_after=...) exists from 2025.12 on.
UPDATE_FAILED_HAS_RETRY_AFTER = "retry_after" in inspect.signature(UpdateFailed.__init__).parameters

# DeviceInfo.via_device_id replaces via_device in 2026.8; 2025.4.4 rejects the new key.
HAS_VIA_DEVICE_ID = "via_device_id" in dr.DeviceInfo.__optional_keys__

# OptionsFlowWithReload exists from 2025.8; older cores need an update listener.
HAS_OPTIONS_FLOW_WITH_RELOAD = hasattr(config_entries, "OptionsFlowWithReload")
if TYPE_CHECKING:
    OptionsFlowBase = config_entries.OptionsFlow
else:
    OptionsFlowBase = getattr(config_entries, "OptionsFlowWithReload", config_entries.OptionsFlow)


def update_failed(
    *, key: str, placeholders: dict[str, str] | None = None, retry_after: float | None = None
) -> UpdateFailed:
    """A translated UpdateFailed, with retry_after where the core supports it."""
    kwargs: dict[str, Any] = {
        "translation_domain": DOMAIN,
        "translation_key": key,
        "translation_placeholders": placeholders,
    }
    if retry_after is not None and UPDATE_FAILED_HAS_RETRY_AFTER:
        kwargs["retry_after"] = retry_after
    return UpdateFailed(**kwargs)


def via_hub(hub_identifier: tuple[str, str], hub_device_id: str) -> dict[str, Any]:
    """The DeviceInfo arguments linking a printer to the farm hub device (built directly,
    without DeviceInfo's dict-style layer, which 2026.x deprecates)."""
    if HAS_VIA_DEVICE_ID:
        return {"via_device_id": hub_device_id}
    return {"via_device": hub_identifier}


def device_entry_ids(device: dr.DeviceEntry) -> set[str]:
    """Config entry ids of a device (single ``config_entry_id`` from 2026.8)."""
    single = getattr(device, "config_entry_id", None)
    if single:
        return {single}
    return set(device.config_entries)
