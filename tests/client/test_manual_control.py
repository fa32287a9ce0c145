"""Manual control (home, cooldown, G-code, speed, power) and camera snapshots in the client."""

from __future__ import annotations

import pytest

from apf_client import SPEED_LEVELS, ApfClient, APFError, APFNotFoundError

from .conftest import FakeServer


@pytest.mark.parametrize(
    ("call", "path", "body"),
    [
        (lambda c: c.home("p1"), "/printers/p1/control", {"action": "home"}),
        (lambda c: c.cooldown("p1"), "/printers/p1/control", {"action": "cooldown"}),
        (
            lambda c: c.send_gcode("p1", "G28\nM117 hi"),
            "/printers/p1/gcode",
            {"script": "G28\nM117 hi"},
        ),
        (lambda c: c.set_speed("p1", "sport"), "/printers/p1/speed", {"level": "sport"}),
        (
            lambda c: c.set_power("p1", "printer", False),
            "/printers/p1/power",
            {"device": "printer", "on": False},
        ),
    ],
)
async def test_manual_commands(
    client: ApfClient, fake_server: FakeServer, call, path: str, body: dict
) -> None:
    # the server's manual-control answer carries no status, only the command id
    fake_server.reply("POST", path, {"printer_id": "p1", "action": "x", "command_id": "c9"})
    result = await call(client)
    assert (result.printer_id, result.command_id) == ("p1", "c9")
    assert fake_server.requests[0].body == body


async def test_speed_level_checked_before_sending(
    client: ApfClient, fake_server: FakeServer
) -> None:
    assert SPEED_LEVELS == ("silent", "standard", "sport", "ludicrous")
    with pytest.raises(ValueError, match="silent"):
        await client.set_speed("p1", "warp")
    assert fake_server.requests == []


async def test_printer_refusal_is_typed(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply(
        "POST",
        "/printers/p1/gcode",
        {"success": False, "code": "PRINTER_PRINTING", "error": "Cannot gcode while printing"},
        status=409,
    )
    with pytest.raises(APFError) as info:
        await client.send_gcode("p1", "G28")
    assert (info.value.code, info.value.status) == ("PRINTER_PRINTING", 409)


async def test_camera_snapshot(client: ApfClient, fake_server: FakeServer) -> None:
    fake_server.reply("GET", "/printers/p1/camera/snapshot", b"\xff\xd8jpeg", envelope=False)
    assert await client.camera_snapshot("p1") == b"\xff\xd8jpeg"
    # a missing printer is an error here, not "no picture"
    with pytest.raises(APFNotFoundError):
        await client.camera_snapshot("nope")
    fake_server.reply(
        "GET",
        "/printers/p2/camera/snapshot",
        {"success": False, "code": "CAPABILITY_NOT_SUPPORTED", "error": "no camera"},
        status=400,
    )
    with pytest.raises(APFError) as info:
        await client.camera_snapshot("p2")
    assert info.value.code == "CAPABILITY_NOT_SUPPORTED"
