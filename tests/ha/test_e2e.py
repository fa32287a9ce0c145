"""End to end: a real apf_core server with simulated printers, no mocked client.

The integration is set up against the server; pressing the pause button pauses
the simulated printer, and the entity follows through the event stream (push).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN
from homeassistant.components.button import SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID, CONF_API_KEY, CONF_URL
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.autoprintfarm.apf_client import ApfClient
from custom_components.autoprintfarm.const import DOMAIN, PUSH_SAFETY_INTERVAL

from .conftest import get_device

testing = pytest.importorskip(
    "apf_core.testing", reason="apf_core.testing (the real server) is missing"
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def wait_for_state(
    hass: HomeAssistant, entity_id: str, wanted: str, timeout: float = 10.0
) -> float:
    """Seconds until the entity shows ``wanted``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        state = hass.states.get(entity_id)
        if state is not None and state.state == wanted:
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    state = hass.states.get(entity_id)
    raise AssertionError(f"{entity_id} is {state.state if state else None!r}, wanted {wanted!r}")


def entity_id_for(hass: HomeAssistant, unique_id: str, domain: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(domain, DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    return entity_id


# On HA 2026.10.4 (aiohttp 3.14) one websocket heartbeat TimerHandle outlives the test although
# the integration's stream is closed (aclosing) and awaited at unload; not yet traced (it may be
# the demo server's side). Reported as a warning instead of an error; see docs/home-assistant.md.
@pytest.mark.parametrize("expected_lingering_timers", [True])
async def test_pause_button_follows_push(
    hass: HomeAssistant,
    tmp_path: Path,
    service_calls: list[ServiceCall],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the test starts its own job; the dispatcher must not take the printer first
    monkeypatch.setenv("APF_AUTO_DISPATCH", "0")
    async with testing.running_farm(tmp_path / "farm", demo=True) as farm:
        client = ApfClient(async_get_clientsession(hass), farm.url, farm.api_key)
        server = await client.server_info()
        printer = (await client.printers())[0]
        queued = await client.jobs(status="queued")
        job = await client.enqueue_job(queued[0].print_file_id, printer_id=printer.id)
        await client.start_job(job.id)

        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=server.server_id,
            title=server.name,
            data={CONF_URL: farm.url, CONF_API_KEY: farm.api_key},
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        coordinator = entry.runtime_data.farm

        status_entity = entity_id_for(hass, f"{server.server_id}_{printer.id}_status", "sensor")
        pause_entity = entity_id_for(hass, f"{server.server_id}_{printer.id}_pause", "button")
        await wait_for_state(hass, status_entity, "printing")

        # A device trigger on the printer runs an automation when the print pauses.
        device = get_device(hass, printer.id)
        assert device is not None
        assert await async_setup_component(
            hass,
            "automation",
            {
                "automation": [
                    {
                        "triggers": [
                            {
                                "platform": "device",
                                "domain": DOMAIN,
                                "device_id": device.id,
                                "type": "print_paused",
                            }
                        ],
                        "actions": [
                            {
                                "action": "test.automation",
                                "data": {"job": "{{ trigger.event.data.job_id }}"},
                            }
                        ],
                    }
                ]
            },
        )
        deadline = time.monotonic() + 5
        while not coordinator.push_connected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert coordinator.push_connected
        assert (
            coordinator.update_interval == PUSH_SAFETY_INTERVAL
        )  # polling is relaxed: updates are pushed

        # Press pause. The button's follow-up poll is switched off, so only push can move the state.
        async def no_refresh() -> None:
            return None

        events_before = coordinator.last_event_id or 0
        with patch.object(coordinator, "async_request_refresh", no_refresh):
            await hass.services.async_call(
                BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: pause_entity}, blocking=True
            )
            latency = await wait_for_state(hass, status_entity, "paused", timeout=5.0)
        assert (
            await client.printer_status(printer.id)
        ).status == "paused"  # the printer really paused
        assert (coordinator.last_event_id or 0) > events_before  # the change came as an event
        assert latency < 1.0, f"push latency {latency:.3f}s"
        await hass.async_block_till_done()
        assert [c.data for c in service_calls if c.domain == "test"] == [{"job": job.id}]

        # A server-side change (not made through HA) also arrives by push: resume.
        await client.resume(printer.id)
        assert await wait_for_state(hass, status_entity, "printing") < 1.0

        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
