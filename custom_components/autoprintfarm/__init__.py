"""The AutoPrintFarm integration: a print farm as devices, entities, actions and events."""

from __future__ import annotations

import asyncio

from homeassistant.const import CONF_API_KEY, CONF_URL, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .apf_client import APFAuthenticationError, ApfClient, APFError
from .compat import HAS_OPTIONS_FLOW_WITH_RELOAD
from .const import DOMAIN
from .coordinator import ApfConfigEntry, ApfFarmCoordinator, ApfRuntimeData, ApfStockCoordinator
from .entity import hub_device_fields
from .issues import missing_scopes_issue_id, sync_scope_issue
from .services import async_setup_services
from .voice import async_setup_voice

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CAMERA,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.LIGHT,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

__all__ = ["ApfClient", "async_setup", "async_setup_entry", "async_unload_entry"]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the actions once, independent of entries (intents: see intent.py)."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ApfConfigEntry) -> bool:
    """Connect to the farm server and set up its devices and entities."""
    client = ApfClient(
        async_get_clientsession(hass), entry.data[CONF_URL], entry.data[CONF_API_KEY]
    )
    try:
        server = await client.server_info()
    except APFAuthenticationError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed"
        ) from err
    except APFError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"error": str(err)},
        ) from err

    stock = ApfStockCoordinator(hass, entry, client)
    farm = ApfFarmCoordinator(hass, entry, client, stock)
    hub = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        **hub_device_fields(entry.unique_id or entry.entry_id, server, client.base_url),
    )
    farm.hub_device_id = hub.id
    entry.runtime_data = ApfRuntimeData(
        client=client,
        server=server,
        farm=farm,
        stock=stock,
        hub_device_id=hub.id,
        options_at_setup=dict(entry.options),
    )
    await asyncio.gather(
        farm.async_config_entry_first_refresh(), stock.async_config_entry_first_refresh()
    )

    farm.on_printers_fetched = lambda ids: _remove_stale_devices(hass, entry, ids)
    _remove_stale_devices(hass, entry, set(farm.data.printers))
    if not HAS_OPTIONS_FLOW_WITH_RELOAD:
        entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    farm.async_start_push()
    sync_scope_issue(hass, entry.entry_id, entry.title, server)
    await async_setup_voice(hass, entry)
    return True


async def async_remove_entry(hass: HomeAssistant, entry: ApfConfigEntry) -> None:
    """A removed entry leaves no repair issue behind."""
    ir.async_delete_issue(hass, DOMAIN, missing_scopes_issue_id(entry.entry_id))


async def async_unload_entry(hass: HomeAssistant, entry: ApfConfigEntry) -> bool:
    """Unload the platforms; the push task ends with the entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def _async_options_updated(hass: HomeAssistant, entry: ApfConfigEntry) -> None:
    """Reload on option changes (cores without OptionsFlowWithReload)."""
    if dict(entry.options) != entry.runtime_data.options_at_setup:
        hass.config_entries.async_schedule_reload(entry.entry_id)


@callback
def _remove_stale_devices(hass: HomeAssistant, entry: ApfConfigEntry, current: set[str]) -> None:
    """Remove printer devices the server no longer reports."""
    registry = dr.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        ids = {ident for domain, ident in device.identifiers if domain == DOMAIN}
        if device.id != entry.runtime_data.hub_device_id and ids and not ids & current:
            registry.async_remove_device(device.id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: ApfConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow deleting a printer device by hand once the server no longer reports it."""
    if device.id == entry.runtime_data.hub_device_id:
        return False
    printers = entry.runtime_data.farm.data.printers
    return not any(domain == DOMAIN and ident in printers for domain, ident in device.identifiers)
