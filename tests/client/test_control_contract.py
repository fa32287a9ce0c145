"""The client's manual-control and camera calls against the real server (scripted printer link)."""

from __future__ import annotations

import pytest

from apf_client import ApfClient, APFError, APFInsufficientScopeError
from apf_core.drivers.base import ConnectionConfig, PowerDevice
from apf_core.drivers.simulator import SimulatedPrinter

# the API suite's server fixture, and its autouse fixture that keeps the dispatcher from starting
# the demo jobs on the new printer by itself
from tests.api.conftest import Api, _manual_dispatch, farm_options  # noqa: F401
from tests.api.conftest import api as base_api  # noqa: F401  (fixture)
from tests.api.control_doubles import ScriptedControl
from tests.api.test_printer_extras import _Camera, _CameraControl
from tests.api.test_printers import register


@pytest.fixture
def api(base_api: Api) -> Api:  # noqa: F811 - the fixture, by name
    """A running server with the demo farm and a set of keys."""
    return base_api


async def test_manual_commands_reach_the_printer(api: Api) -> None:
    printer_id = (await register(api))["id"]
    control = ScriptedControl(power=[PowerDevice("printer", False)])
    api.farm.control = control
    client = ApfClient(api.session, api.server.url, api.keys["control"])
    results = [
        await client.home(printer_id),
        await client.cooldown(printer_id),
        await client.send_gcode(printer_id, "G28\nM117 hi"),
        await client.set_speed(printer_id, "ludicrous"),
        await client.set_power(printer_id, "printer", True),
    ]
    assert {r.printer_id for r in results} == {printer_id}
    assert all(r.command_id for r in results)
    assert [(c.action, c.params) for _, c in control.sent] == [
        ("home", {}),
        ("cooldown", {}),
        ("gcode", {"script": "G28\nM117 hi"}),
        ("speed", {"level": "ludicrous"}),
        ("power", {"device": "printer", "on": True}),
    ]
    with pytest.raises(APFInsufficientScopeError):
        await ApfClient(api.session, api.server.url, api.keys["read"]).set_speed(
            printer_id, "silent"
        )


async def test_gcode_refused_while_printing(api: Api) -> None:
    printer_id = (await register(api))["id"]
    api.farm.control = ScriptedControl()
    file_id = (await api.get("/jobs", key="read")).data[0]["print_file_id"]
    job = (
        await api.post(
            "/jobs", json={"print_file_id": file_id, "printer_id": printer_id}, key="write"
        )
    ).data
    await api.post(f"/jobs/{job['id']}/start", key="control")
    client = ApfClient(api.session, api.server.url, api.keys["control"])
    with pytest.raises(APFError) as info:
        await client.send_gcode(printer_id, "G28")
    assert (info.value.status, info.value.code) == (409, "PRINTER_PRINTING")


async def test_camera_snapshot(api: Api) -> None:
    printer_id = (await register(api))["id"]
    client = ApfClient(api.session, api.server.url, api.keys["read"])
    api.farm.control = _CameraControl(_Camera())
    assert await client.camera_snapshot(printer_id) == b"\xff\xd8jpeg\xff\xd9"
    api.farm.control = _CameraControl(SimulatedPrinter(ConnectionConfig("simulated", {})))
    with pytest.raises(APFError) as info:
        await client.camera_snapshot(printer_id)
    assert (info.value.status, info.value.code) == (400, "CAPABILITY_NOT_SUPPORTED")
