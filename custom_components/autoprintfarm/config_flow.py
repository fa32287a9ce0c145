"""Config flow: user, zeroconf (+confirm), reauth, reconfigure and options."""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv6Address, ip_address
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from yarl import URL

from .apf_client import (
    APFAuthenticationError,
    ApfClient,
    APFConnectionError,
    APFError,
    APFInsufficientScopeError,
    ServerInfo,
)
from .compat import OptionsFlowBase
from .const import (
    CONF_SCAN_INTERVAL,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    LOGGER,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
)

SUPPORTED_API = "autoprintfarm-public-v1"
KEY_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))
USER_SCHEMA = vol.Schema(
    {vol.Required(CONF_URL): URL_SELECTOR, vol.Required(CONF_API_KEY): KEY_SELECTOR}
)
KEY_SCHEMA = vol.Schema({vol.Required(CONF_API_KEY): KEY_SELECTOR})
RECONFIGURE_SCHEMA = vol.Schema(
    {vol.Required(CONF_URL): URL_SELECTOR, vol.Optional(CONF_API_KEY): KEY_SELECTOR}
)


def normalize_url(raw: str) -> str | None:
    """``http(s)://host[:port][/path]`` without a trailing slash, or ``None`` if invalid."""
    try:
        url = URL(raw.strip())
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.host:
        return None
    return str(url.with_query(None).with_fragment(None)).rstrip("/")


class ApfConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add an AutoPrintFarm server."""

    VERSION = 1
    MINOR_VERSION = 1

    def __init__(self) -> None:
        self._discovered_url: str | None = None
        self._discovered_name: str | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        return ApfOptionsFlow()

    async def _validate(self, url: str, api_key: str) -> tuple[ServerInfo | None, dict[str, str]]:
        """Call the server; return its identity or form errors."""
        client = ApfClient(async_get_clientsession(self.hass), url, api_key)
        try:
            server = await client.server_info()
            if server.api is not None and server.api != SUPPORTED_API:
                return None, {"base": "unsupported_api"}
            await client.printers()  # proves the key has the read scope
        except APFAuthenticationError:
            return None, {CONF_API_KEY: "invalid_auth"}
        except APFInsufficientScopeError:
            return None, {CONF_API_KEY: "insufficient_scope"}
        except APFConnectionError:
            return None, {"base": "cannot_connect"}
        except APFError:
            return None, {"base": "not_apf_server"}
        except Exception:
            LOGGER.exception("Unexpected error validating %s", url)
            return None, {"base": "unknown"}
        return server, {}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            url = normalize_url(user_input[CONF_URL])
            if url is None:
                errors[CONF_URL] = "invalid_url"
            else:
                server, errors = await self._validate(url, user_input[CONF_API_KEY])
                if server is not None:
                    await self.async_set_unique_id(server.server_id)
                    self._abort_if_unique_id_configured()
                    return self.async_create_entry(
                        title=server.name,
                        data={CONF_URL: url, CONF_API_KEY: user_input[CONF_API_KEY]},
                    )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        props = discovery_info.properties
        host = discovery_info.host
        if isinstance(ip_address(discovery_info.ip_address), IPv6Address):
            host = f"[{host}]"
        scheme = "https" if str(props.get("tls", "")).lower() in ("1", "true") else "http"
        path = str(props.get("path") or "").rstrip("/")
        if path.endswith("/public/v1"):
            path = path.removesuffix("/public/v1")
        url = f"{scheme}://{host}:{discovery_info.port}{path}"
        if server_id := props.get("server_id"):
            await self.async_set_unique_id(str(server_id))
            self._abort_if_unique_id_configured(updates={CONF_URL: url})
        self._async_abort_entries_match({CONF_URL: url})
        self._discovered_url = url
        self._discovered_name = str(props.get("name") or discovery_info.name.split(".")[0])
        self.context["title_placeholders"] = {"name": self._discovered_name}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        assert self._discovered_url is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            server, errors = await self._validate(self._discovered_url, user_input[CONF_API_KEY])
            if server is not None:
                await self.async_set_unique_id(server.server_id, raise_on_progress=False)
                self._abort_if_unique_id_configured(updates={CONF_URL: self._discovered_url})
                return self.async_create_entry(
                    title=server.name,
                    data={CONF_URL: self._discovered_url, CONF_API_KEY: user_input[CONF_API_KEY]},
                )
        return self.async_show_form(
            step_id="zeroconf_confirm",
            data_schema=KEY_SCHEMA,
            errors=errors,
            description_placeholders={
                "name": self._discovered_name or "",
                "url": self._discovered_url,
            },
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            server, errors = await self._validate(entry.data[CONF_URL], user_input[CONF_API_KEY])
            if server is not None:
                await self.async_set_unique_id(server.server_id)
                self._abort_if_unique_id_mismatch(reason="wrong_farm")
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_API_KEY: user_input[CONF_API_KEY]}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=KEY_SCHEMA,
            errors=errors,
            description_placeholders={"name": entry.title, "url": entry.data[CONF_URL]},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            url = normalize_url(user_input[CONF_URL])
            api_key = user_input.get(CONF_API_KEY) or entry.data[CONF_API_KEY]
            if url is None:
                errors[CONF_URL] = "invalid_url"
            else:
                server, errors = await self._validate(url, api_key)
                if server is not None:
                    await self.async_set_unique_id(server.server_id)
                    self._abort_if_unique_id_mismatch(reason="wrong_farm")
                    return self.async_update_reload_and_abort(
                        entry, data_updates={CONF_URL: url, CONF_API_KEY: api_key}
                    )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                RECONFIGURE_SCHEMA, {CONF_URL: (user_input or entry.data)[CONF_URL]}
            ),
            errors=errors,
        )


class ApfOptionsFlow(OptionsFlowBase):
    """Polling interval used while the event stream is down."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(
                data={CONF_SCAN_INTERVAL: int(user_input[CONF_SCAN_INTERVAL])}
            )
        schema = vol.Schema(
            {
                vol.Required(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_SCAN_INTERVAL,
                        max=MAX_SCAN_INTERVAL,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                )
            }
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
        )
