"""Manual control routes: G-code, speed, power, and the home/cooldown control actions."""

from __future__ import annotations

from tests.api.control_doubles import ScriptedControl
from tests.api.test_printers import register


async def test_manual_commands_reach_the_printer(api) -> None:
    printer = await register(api)
    control = ScriptedControl()
    api.farm.control = control
    base = f"/printers/{printer['id']}"
    reply = await api.post(base + "/gcode", json={"script": "G28\nM117 hi"}, key="control")
    assert reply.status == 200, reply.body
    reply = await api.post(base + "/speed", json={"level": "sport"}, key="control")
    assert reply.status == 200 and reply.data["level"] == "sport"
    reply = await api.post(base + "/power", json={"device": "printer", "on": True}, key="control")
    assert reply.status == 200
    for action in ("home", "cooldown"):
        reply = await api.post(base + "/control", json={"action": action}, key="control")
        assert reply.status == 200, reply.body
    sent = [(c.action, c.params) for _, c in control.sent]
    assert sent == [
        ("gcode", {"script": "G28\nM117 hi"}),
        ("speed", {"level": "sport"}),
        ("power", {"device": "printer", "on": True}),
        ("home", {}),
        ("cooldown", {}),
    ]


async def test_manual_commands_validate_and_need_control_scope(api) -> None:
    printer = await register(api)
    api.farm.control = ScriptedControl()
    base = f"/printers/{printer['id']}"
    reply = await api.post(base + "/speed", json={"level": "warp"}, key="control")
    assert reply.status == 400
    reply = await api.post(base + "/gcode", json={"script": ""}, key="control")
    assert reply.status == 400
    reply = await api.post(base + "/gcode", json={"script": "G28"}, key="read")
    assert reply.status == 403
    reply = await api.post("/printers/nope/gcode", json={"script": "G28"}, key="control")
    assert reply.status == 404


async def test_gcode_refused_while_printing(api) -> None:
    printer = await register(api)
    api.farm.control = ScriptedControl()
    file_id = (await api.get("/jobs", key="read")).data[0]["print_file_id"]
    job = (
        await api.post(
            "/jobs", json={"print_file_id": file_id, "printer_id": printer["id"]}, key="write"
        )
    ).data
    await api.post(f"/jobs/{job['id']}/start", key="control")
    base = f"/printers/{printer['id']}"
    reply = await api.post(base + "/gcode", json={"script": "G28"}, key="control")
    assert reply.status == 409 and reply.code == "PRINTER_PRINTING"
    reply = await api.post(base + "/speed", json={"level": "silent"}, key="control")
    assert reply.status == 200  # speed is fine while printing


async def test_manual_commands_when_offline(api) -> None:
    printer = await register(api)
    reply = await api.post(
        f"/printers/{printer['id']}/gcode", json={"script": "G28"}, key="control"
    )
    assert reply.status == 503 and reply.code == "HUB_OFFLINE"


class _CameraControl(ScriptedControl):
    """A control whose printers have drivers: a simulator (no camera) or a camera stub."""

    def __init__(self, driver: object) -> None:
        super().__init__()
        self._driver = driver

    def driver(self, printer_id: str) -> object:
        return self._driver


class _Camera:
    capabilities = frozenset({"camera"})

    async def snapshot(self) -> bytes:
        return b"\xff\xd8jpeg\xff\xd9"


async def test_camera_snapshot(api) -> None:
    from apf_core.drivers.base import ConnectionConfig
    from apf_core.drivers.simulator import SimulatedPrinter

    printer = await register(api)
    path = f"/printers/{printer['id']}/camera/snapshot"
    api.farm.control = ScriptedControl()  # no driver at all
    reply = await api.get(path, key="read")
    assert reply.status == 503 and reply.code == "HUB_OFFLINE"
    api.farm.control = _CameraControl(SimulatedPrinter(ConnectionConfig("simulated", {})))
    reply = await api.get(path, key="read")
    assert reply.status == 400 and reply.code == "CAPABILITY_NOT_SUPPORTED"
    api.farm.control = _CameraControl(_Camera())
    reply = await api.get(path, key="read")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "image/jpeg"
    reply = await api.get("/printers/nope/camera/snapshot", key="read")
    assert reply.status == 404
