"""Actions: happy paths, response data, validation and server errors."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock

import pytest
import voluptuous as vol
from homeassistant.const import CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.autoprintfarm.apf_client import (
    APFConnectionError,
    APFError,
    APFNotFoundError,
    Job,
    Order,
    StockAdjustment,
)
from custom_components.autoprintfarm.const import DOMAIN

from .conftest import get_device, load_json

JOB = Job.from_dict({**load_json("job_j1.json"), "status": "queued", "printer_id": None})


def device_id(hass: HomeAssistant, ident: str) -> str:
    device = get_device(hass, ident)
    assert device is not None
    return device.id


async def call(
    hass: HomeAssistant, action: str, data: dict[str, Any], response: bool = False
) -> Any:
    return await hass.services.async_call(
        DOMAIN, action, data, blocking=True, return_response=response
    )


@pytest.mark.usefixtures("init_integration")
async def test_enqueue_job(
    hass: HomeAssistant, mock_client: MagicMock, mock_config_entry: MockConfigEntry
) -> None:
    mock_client.enqueue_job.return_value = JOB
    result = await call(
        hass,
        "enqueue_job",
        {
            "config_entry_id": mock_config_entry.entry_id,
            "file_id": "f1",
            "sku_id": "sku1",
            "quantity": 4,
            "printer": device_id(hass, "p1"),
        },
        response=True,
    )
    mock_client.enqueue_job.assert_awaited_once_with(
        "f1", printer_id="p1", product_sku_id="sku1", number_of_units=4
    )
    assert result["job"]["id"] == "j1"
    assert result["job"]["status"] == "queued"
    assert result["job"]["time_submitted"] == "2026-11-21T10:30:00+00:00"


@pytest.mark.usefixtures("init_integration")
async def test_enqueue_job_auto_printer(
    hass: HomeAssistant, mock_client: MagicMock, mock_config_entry: MockConfigEntry
) -> None:
    mock_client.enqueue_job.return_value = JOB
    await call(
        hass, "enqueue_job", {"config_entry_id": mock_config_entry.entry_id, "file_id": "f1"}
    )
    mock_client.enqueue_job.assert_awaited_once_with(
        "f1", printer_id=None, product_sku_id=None, number_of_units=1
    )


@pytest.mark.usefixtures("init_integration")
async def test_enqueue_rejects_hub_device(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as info:
        await call(
            hass,
            "enqueue_job",
            {
                "config_entry_id": mock_config_entry.entry_id,
                "file_id": "f1",
                "printer": device_id(hass, mock_config_entry.unique_id),
            },
        )
    assert info.value.translation_key == "invalid_printer"
    with pytest.raises(ServiceValidationError) as info:
        await call(
            hass,
            "enqueue_job",
            {
                "config_entry_id": mock_config_entry.entry_id,
                "file_id": "f1",
                "printer": "not-a-device",
            },
        )
    assert info.value.translation_key == "invalid_printer"


@pytest.mark.usefixtures("init_integration")
async def test_enqueue_printer_of_other_farm(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry, mock_client: MagicMock
) -> None:
    other = MockConfigEntry(
        domain=DOMAIN, unique_id="farm-2", data={CONF_URL: "http://b", CONF_API_KEY: "k"}
    )
    other.add_to_hass(hass)
    await hass.config_entries.async_setup(other.entry_id)
    await hass.async_block_till_done()
    # both farms report printer p1 in the mock; make a device owned only by the second entry
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={(DOMAIN, "px")}
    )
    with pytest.raises(ServiceValidationError) as info:
        await call(
            hass,
            "enqueue_job",
            {"config_entry_id": mock_config_entry.entry_id, "file_id": "f1", "printer": device.id},
        )
    assert info.value.translation_key == "printer_other_farm"


@pytest.mark.parametrize(
    ("action", "method"),
    [("start_job", "start_job"), ("cancel_job", "cancel_job"), ("retry_job", "retry_job")],
)
@pytest.mark.usefixtures("init_integration")
async def test_job_actions(
    hass: HomeAssistant,
    mock_client: MagicMock,
    mock_config_entry: MockConfigEntry,
    action: str,
    method: str,
) -> None:
    getattr(mock_client, method).return_value = JOB
    result = await call(
        hass, action, {"config_entry_id": mock_config_entry.entry_id, "job_id": "j1"}, response=True
    )
    getattr(mock_client, method).assert_awaited_once_with("j1")
    assert result == {"job": JOB.as_dict()}


@pytest.mark.usefixtures("init_integration")
async def test_job_action_errors(
    hass: HomeAssistant, mock_client: MagicMock, mock_config_entry: MockConfigEntry
) -> None:
    data = {"config_entry_id": mock_config_entry.entry_id, "job_id": "j9"}
    mock_client.start_job.side_effect = APFNotFoundError("Job not found", status=404)
    with pytest.raises(ServiceValidationError, match="Job not found"):
        await call(hass, "start_job", data)
    mock_client.start_job.side_effect = APFError(
        "No printer", code="NO_PRINTER_ASSIGNED", status=400
    )
    with pytest.raises(ServiceValidationError, match="NO_PRINTER_ASSIGNED"):
        await call(hass, "start_job", data)
    mock_client.start_job.side_effect = APFError("hub down", code="HUB_OFFLINE", status=503)
    with pytest.raises(HomeAssistantError, match="HUB_OFFLINE"):
        await call(hass, "start_job", data)
    mock_client.start_job.side_effect = APFConnectionError("refused")
    with pytest.raises(HomeAssistantError, match="refused"):
        await call(hass, "start_job", data)


@pytest.mark.usefixtures("init_integration")
async def test_get_queue(
    hass: HomeAssistant, mock_client: MagicMock, mock_config_entry: MockConfigEntry
) -> None:
    mock_client.jobs.return_value = [JOB]
    result = await call(
        hass, "get_queue", {"config_entry_id": mock_config_entry.entry_id}, response=True
    )
    mock_client.jobs.assert_awaited_once_with(status="queued", limit=100)
    assert [job["id"] for job in result["jobs"]] == ["j1"]


@pytest.mark.usefixtures("init_integration")
async def test_clear_bed_and_temperature(hass: HomeAssistant, mock_client: MagicMock) -> None:
    await call(hass, "clear_bed", {"device_id": device_id(hass, "p1"), "result": "failed"})
    mock_client.clear_bed.assert_awaited_once_with("p1", "failed")
    await call(
        hass, "set_temperature", {"device_id": device_id(hass, "p1"), "heater": "bed", "target": 70}
    )
    mock_client.set_temperature.assert_awaited_once_with("p1", "bed", 70.0)
    with pytest.raises(ServiceValidationError) as info:
        await call(
            hass,
            "set_temperature",
            {"device_id": device_id(hass, "p1"), "heater": "bed", "target": 150},
        )
    assert info.value.translation_key == "temperature_out_of_range"
    assert mock_client.set_temperature.await_count == 1


@pytest.mark.usefixtures("init_integration")
async def test_adjust_stock(
    hass: HomeAssistant, mock_client: MagicMock, mock_config_entry: MockConfigEntry
) -> None:
    mock_client.adjust_inventory.return_value = StockAdjustment(
        id="fg2",
        previous_stock=2,
        adjustment=-2,
        new_stock=0,
        new_status="out_of_stock",
        is_low_stock=True,
    )
    result = await call(
        hass,
        "adjust_stock",
        {
            "config_entry_id": mock_config_entry.entry_id,
            "item_id": "fg2",
            "adjustment": -2,
            "reason": "damaged",
            "notes": "dropped",
        },
        response=True,
    )
    mock_client.adjust_inventory.assert_awaited_once_with(
        "fg2", -2, reason="damaged", notes="dropped"
    )
    assert result == {
        "item_id": "fg2",
        "previous_stock": 2,
        "new_stock": 0,
        "new_status": "out_of_stock",
        "is_low_stock": True,
    }
    with pytest.raises(vol.Invalid, match="must not be one of"):
        await call(
            hass,
            "adjust_stock",
            {"config_entry_id": mock_config_entry.entry_id, "item_id": "fg2", "adjustment": 0},
        )
    mock_client.adjust_inventory.side_effect = APFError(
        "would go negative", code="VALIDATION_ERROR", status=400
    )
    with pytest.raises(ServiceValidationError, match="negative"):
        await call(
            hass,
            "adjust_stock",
            {"config_entry_id": mock_config_entry.entry_id, "item_id": "fg2", "adjustment": -50},
        )


@pytest.mark.usefixtures("init_integration")
async def test_fulfill_order(
    hass: HomeAssistant, mock_client: MagicMock, mock_config_entry: MockConfigEntry
) -> None:
    mock_client.fulfill_order.return_value = Order(
        id="o1", status="shipped", fulfillment_errors=("KIT_NOT_PRODUCED",)
    )
    result = await call(
        hass,
        "fulfill_order",
        {
            "config_entry_id": mock_config_entry.entry_id,
            "order_id": "o1",
            "tracking_number": "1Z",
            "tracking_url": "https://t.example/1Z",
        },
        response=True,
    )
    mock_client.fulfill_order.assert_awaited_once_with(
        "o1", tracking_number="1Z", tracking_url="https://t.example/1Z"
    )
    assert result == {
        "order_id": "o1",
        "status": "shipped",
        "fulfillment_errors": ["KIT_NOT_PRODUCED"],
    }


async def test_actions_need_a_loaded_entry(
    hass: HomeAssistant, init_integration: MockConfigEntry, mock_client: MagicMock
) -> None:
    printer = device_id(hass, "p1")
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(ServiceValidationError, match="not loaded"):
        await call(hass, "get_queue", {"config_entry_id": init_integration.entry_id}, response=True)
    with pytest.raises(ServiceValidationError, match="not loaded"):
        await call(hass, "clear_bed", {"device_id": printer})
    with pytest.raises(ServiceValidationError) as info:
        await call(hass, "get_queue", {"config_entry_id": "nope"}, response=True)
    assert info.value.translation_key == "entry_not_found"
