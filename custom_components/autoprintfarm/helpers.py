"""Mapping library errors to translated Home Assistant errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import wraps
from typing import Any, cast

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .apf_client import (
    APFAuthenticationError,
    APFConnectionError,
    APFError,
    APFInsufficientScopeError,
    APFNotFoundError,
)
from .const import DOMAIN
from .coordinator import ApfConfigEntry
from .entity import ApfPrinterEntity


@asynccontextmanager
async def handle_apf_errors(entry: ApfConfigEntry) -> AsyncIterator[None]:
    """Turn library errors raised in the block into translated HA errors."""
    try:
        yield
    except APFAuthenticationError as err:
        entry.async_start_reauth(entry.runtime_data.farm.hass)
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="auth_failed") from err
    except APFInsufficientScopeError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="insufficient_scope",
            translation_placeholders={"error": str(err)},
        ) from err
    except APFNotFoundError as err:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_found",
            translation_placeholders={"error": str(err)},
        ) from err
    except APFConnectionError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="communication_error",
            translation_placeholders={"error": str(err)},
        ) from err
    except APFError as err:
        if err.status is not None and 400 <= err.status < 500:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="rejected",
                translation_placeholders={"error": str(err), "code": err.code or str(err.status)},
            ) from err
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="server_error",
            translation_placeholders={"error": str(err), "code": err.code or str(err.status)},
        ) from err


def apf_exception_handler[F: Callable[..., Coroutine[Any, Any, None]]](func: F) -> F:
    """Decorate entity commands: map errors, then refresh the farm data."""

    @wraps(func)
    async def wrapper(self: ApfPrinterEntity, *args: Any, **kwargs: Any) -> None:
        async with handle_apf_errors(self.coordinator.config_entry):
            await func(self, *args, **kwargs)
        await self.coordinator.async_request_refresh()

    return cast(F, wrapper)
