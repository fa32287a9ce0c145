"""Actions: jobs, clear bed, temperatures, G-code, power devices, stock and orders.

Registered once in ``async_setup`` so automations validate even while no
entry is loaded; every handler resolves and checks its target entry itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr

from .apf_client import STOCK_REASONS, ApfClient, Job
from .compat import device_entry_ids
from .const import DOMAIN
from .coordinator import ApfConfigEntry
from .helpers import handle_apf_errors

type ServiceHandler = Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
HEATER_LIMITS = {"nozzle": 300.0, "bed": 120.0, "chamber": 80.0}

ENTRY_SCHEMA = vol.Schema({vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
JOB_SCHEMA = ENTRY_SCHEMA.extend({vol.Required("job_id"): cv.string})
ENQUEUE_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required("file_id"): cv.string,
        vol.Optional("sku_id"): cv.string,
        vol.Optional("quantity", default=1): vol.All(vol.Coerce(int), vol.Range(min=1, max=10000)),
        vol.Optional("printer"): cv.string,
    }
)
CLEAR_BED_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Optional("result", default="success"): vol.In(["success", "failed"]),
    }
)
TEMPERATURE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Required("heater"): vol.In(list(HEATER_LIMITS)),
        vol.Required("target"): vol.All(vol.Coerce(float), vol.Range(min=0, max=300)),
    }
)
GCODE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Required("script"): vol.All(cv.string, vol.Length(min=1, max=10000)),
    }
)
POWER_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Required("device"): vol.All(cv.string, vol.Length(min=1, max=120)),
        vol.Required("state"): cv.boolean,
    }
)
ADJUST_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required("item_id"): cv.string,
        vol.Required("adjustment"): vol.All(vol.Coerce(int), vol.NotIn([0])),
        vol.Optional("reason", default="manual"): vol.In(list(STOCK_REASONS)),
        vol.Optional("notes"): vol.All(cv.string, vol.Length(max=500)),
    }
)
FULFILL_SCHEMA = ENTRY_SCHEMA.extend(
    {
        vol.Required("order_id"): cv.string,
        vol.Optional("tracking_number"): cv.string,
        vol.Optional("tracking_url"): cv.url,
    }
)


def loaded_entry(hass: HomeAssistant, entry_id: str) -> ApfConfigEntry:
    """The loaded entry with this id, or a translated validation error."""
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="entry_not_found")
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


def printer_target(hass: HomeAssistant, device_id: str) -> tuple[ApfConfigEntry, str]:
    """The loaded entry and printer id behind a printer device."""
    device = dr.async_get(hass).async_get(device_id)
    if device is not None:
        for entry_id in device_entry_ids(device):
            entry = hass.config_entries.async_get_entry(entry_id)
            if entry is None or entry.domain != DOMAIN:
                continue
            entry = loaded_entry(hass, entry_id)
            for domain, ident in device.identifiers:
                if domain == DOMAIN and ident != entry.unique_id:
                    return entry, ident
    raise ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="invalid_printer",
        translation_placeholders={"device_id": device_id},
    )


async def _job_response(entry: ApfConfigEntry, call: Awaitable[Job]) -> ServiceResponse:
    async with handle_apf_errors(entry):
        job = await call
    await entry.runtime_data.farm.async_request_refresh()
    return {"job": job.as_dict()}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""

    async def enqueue_job(call: ServiceCall) -> ServiceResponse:
        entry = loaded_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
        printer_id = None
        if device_id := call.data.get("printer"):
            printer_entry, printer_id = printer_target(hass, device_id)
            if printer_entry.entry_id != entry.entry_id:
                raise ServiceValidationError(
                    translation_domain=DOMAIN, translation_key="printer_other_farm"
                )
        client = entry.runtime_data.client
        return await _job_response(
            entry,
            client.enqueue_job(
                call.data["file_id"],
                printer_id=printer_id,
                product_sku_id=call.data.get("sku_id"),
                number_of_units=call.data["quantity"],
            ),
        )

    def job_action(
        method: Callable[[ApfClient, str], Awaitable[Job]],
    ) -> ServiceHandler:
        async def handler(call: ServiceCall) -> ServiceResponse:
            entry = loaded_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
            return await _job_response(
                entry, method(entry.runtime_data.client, call.data["job_id"])
            )

        return handler

    async def get_queue(call: ServiceCall) -> ServiceResponse:
        entry = loaded_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
        async with handle_apf_errors(entry):
            jobs = await entry.runtime_data.client.jobs(status="queued", limit=100)
        return {"jobs": [job.as_dict() for job in jobs]}

    async def clear_bed(call: ServiceCall) -> None:
        entry, printer_id = printer_target(hass, call.data[ATTR_DEVICE_ID])
        async with handle_apf_errors(entry):
            await entry.runtime_data.client.clear_bed(printer_id, call.data["result"])
        entry.runtime_data.farm.async_mark_bed_cleared(printer_id)
        await entry.runtime_data.farm.async_request_refresh()

    async def set_temperature(call: ServiceCall) -> None:
        entry, printer_id = printer_target(hass, call.data[ATTR_DEVICE_ID])
        heater, target = call.data["heater"], call.data["target"]
        if target > HEATER_LIMITS[heater]:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="temperature_out_of_range",
                translation_placeholders={"heater": heater, "max": str(int(HEATER_LIMITS[heater]))},
            )
        async with handle_apf_errors(entry):
            await entry.runtime_data.client.set_temperature(printer_id, heater, target)
        await entry.runtime_data.farm.async_request_refresh()

    def printer_command(
        send: Callable[[ApfClient, str, ServiceCall], Awaitable[object]],
    ) -> ServiceHandler:
        """A printer action; a refusal (printing, no capability) becomes a translated error."""

        async def handler(call: ServiceCall) -> None:
            entry, printer_id = printer_target(hass, call.data[ATTR_DEVICE_ID])
            async with handle_apf_errors(entry):
                await send(entry.runtime_data.client, printer_id, call)
            await entry.runtime_data.farm.async_request_refresh()

        return handler

    async def adjust_stock(call: ServiceCall) -> ServiceResponse:
        entry = loaded_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
        async with handle_apf_errors(entry):
            result = await entry.runtime_data.client.adjust_inventory(
                call.data["item_id"],
                call.data["adjustment"],
                reason=call.data["reason"],
                notes=call.data.get("notes"),
            )
        await entry.runtime_data.stock.async_request_refresh()
        return {
            "item_id": result.id,
            "previous_stock": result.previous_stock,
            "new_stock": result.new_stock,
            "new_status": result.new_status,
            "is_low_stock": result.is_low_stock,
        }

    async def fulfill_order(call: ServiceCall) -> ServiceResponse:
        entry = loaded_entry(hass, call.data[ATTR_CONFIG_ENTRY_ID])
        async with handle_apf_errors(entry):
            order = await entry.runtime_data.client.fulfill_order(
                call.data["order_id"],
                tracking_number=call.data.get("tracking_number"),
                tracking_url=call.data.get("tracking_url"),
            )
        await entry.runtime_data.stock.async_request_refresh()
        return {
            "order_id": order.id,
            "status": order.status,
            "fulfillment_errors": list(order.fulfillment_errors),
        }

    register: list[tuple[str, ServiceHandler, vol.Schema, SupportsResponse]] = [
        ("enqueue_job", enqueue_job, ENQUEUE_SCHEMA, SupportsResponse.OPTIONAL),
        (
            "start_job",
            job_action(lambda c, j: c.start_job(j)),
            JOB_SCHEMA,
            SupportsResponse.OPTIONAL,
        ),
        (
            "cancel_job",
            job_action(lambda c, j: c.cancel_job(j)),
            JOB_SCHEMA,
            SupportsResponse.OPTIONAL,
        ),
        (
            "retry_job",
            job_action(lambda c, j: c.retry_job(j)),
            JOB_SCHEMA,
            SupportsResponse.OPTIONAL,
        ),
        ("get_queue", get_queue, ENTRY_SCHEMA, SupportsResponse.ONLY),
        ("clear_bed", clear_bed, CLEAR_BED_SCHEMA, SupportsResponse.NONE),
        ("set_temperature", set_temperature, TEMPERATURE_SCHEMA, SupportsResponse.NONE),
        (
            "send_gcode",
            printer_command(lambda c, p, call: c.send_gcode(p, call.data["script"])),
            GCODE_SCHEMA,
            SupportsResponse.NONE,
        ),
        (
            "set_power",
            printer_command(
                lambda c, p, call: c.set_power(p, call.data["device"], call.data["state"])
            ),
            POWER_SCHEMA,
            SupportsResponse.NONE,
        ),
        ("adjust_stock", adjust_stock, ADJUST_SCHEMA, SupportsResponse.OPTIONAL),
        ("fulfill_order", fulfill_order, FULFILL_SCHEMA, SupportsResponse.OPTIONAL),
    ]
    for name, handler, schema, supports in register:
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=supports
        )
