"""The shipped blueprint is valid and notifies on print_failed events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint.models import Blueprint, BlueprintInputs
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.autoprintfarm.apf_client import FarmEvent

from .conftest import get_device, make_event

BLUEPRINT = (
    Path(__file__).parents[2] / "blueprints/automation/autoprintfarm/notify_print_failed.yaml"
)


async def test_notify_blueprint(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    service_calls: list[ServiceCall],
    event_queue: asyncio.Queue[FarmEvent],
) -> None:
    blueprint = Blueprint(
        load_yaml_dict(BLUEPRINT), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    printer = get_device(hass, "p1")
    assert printer is not None
    inputs = BlueprintInputs(
        blueprint,
        {
            "use_blueprint": {
                "path": "x",
                "input": {"printer": printer.id, "notify_action": "test.automation"},
            }
        },
    )
    inputs.validate()
    config = inputs.async_substitute()
    config.pop("blueprint", None)
    assert await async_setup_component(hass, "automation", {"automation": [config]})

    failed = {
        "id": "j1",
        "status": "failed",
        "printer_id": "p1",
        "file_name": "clip.3mf",
        "failure_reason": "Spaghetti detected",
    }
    await event_queue.put(make_event(1, "job.failed", failed))
    await event_queue.put(
        make_event(2, "job.failed", {**failed, "printer_id": "p2"})
    )  # other printer
    await event_queue.put(make_event(3, "job.completed", {**failed, "status": "completed"}))
    await hass.async_block_till_done()
    assert len(service_calls) == 1
    assert service_calls[0].data["title"] == "Print failed"
    assert (
        service_calls[0]
        .data["message"]
        .startswith("Prusa One failed printing clip.3mf: Spaghetti detected.")
    )
