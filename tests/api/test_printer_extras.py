"""Manual control routes: G-code, speed, power, and the home/cooldown control actions."""

from __future__ import annotations

from apf_core.drivers.base import PowerDevice
from apf_core.drivers.manager import query_driver
from tests.api.control_doubles import ScriptedControl
from tests.api.test_printers import register


async def test_manual_commands_reach_the_printer(api) -> None:
    printer = await register(api)
    control = ScriptedControl(power=[PowerDevice("printer", False)])
    api.farm.control = control
    base = f"/printers/{printer['id']}"
    reply = await api.post(base + "/gcode", json={"script": "G28\nM117 hi"}, key="control")
    assert reply.status == 200, reply.body
    reply = await api.post(base + "/speed", json={"level": "sport"}, key="control")
    assert reply.status == 200 and reply.data["level"] == "sport"
    reply = await api.post(base + "/power", json={"device": "printer", "on": True}, key="control")
    assert reply.status == 200
    status = (await api.get(base)).data["status"]
    for action in ("home", "cooldown"):
        reply = await api.post(base + "/control", json={"action": action}, key="control")
        assert reply.status == 200, reply.body
        # answered like every control action (the reference's printer_id, action, status,
        # command_id); homing or cooling down leaves the status as it was
        assert set(reply.data) == {"printer_id", "action", "status", "command_id"}
        assert (reply.data["action"], reply.data["status"]) == (action, status)
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

    async def query(self, printer_id: str, what: str, *, timeout: float = 30.0) -> object:
        return await query_driver(self._driver, what, timeout)  # type: ignore[arg-type]


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


async def test_power_devices_listed_and_checked(api) -> None:
    printer = await register(api)
    base = f"/printers/{printer['id']}"
    devices = [
        PowerDevice("printer", True, locked_while_printing=True),
        PowerDevice("lights", None),
    ]
    api.farm.control = control = ScriptedControl(power=devices)
    reply = await api.get(base + "/power-devices", key="read")
    assert reply.status == 200, reply.body
    assert reply.data == {
        "printer_id": printer["id"],
        "devices": [
            {"name": "printer", "on": True, "locked_while_printing": True},
            {"name": "lights", "on": None, "locked_while_printing": False},
        ],
    }
    wrong = await api.post(base + "/power", json={"device": "kettle", "on": True}, key="control")
    assert wrong.status == 400 and wrong.code == "INVALID_DEVICE", wrong.body
    assert wrong.body["details"][0]["field"] == "device"
    assert wrong.body["message"].endswith("it has printer, lights")
    assert control.sent == []  # refused before any command

    api.farm.control = ScriptedControl()  # no [power] devices (OctoPrint, Bambu, ...)
    for reply in (
        await api.get(base + "/power-devices", key="read"),
        await api.post(base + "/power", json={"device": "printer", "on": True}, key="control"),
    ):
        assert reply.status == 400 and reply.code == "CAPABILITY_NOT_SUPPORTED", reply.body
    api.farm.control = ScriptedControl(online=False)
    offline = await api.get(base + "/power-devices", key="read")
    assert offline.status == 503 and offline.code == "HUB_OFFLINE"
    assert (await api.get("/printers/nope/power-devices", key="read")).status == 404
