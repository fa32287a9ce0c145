"""The status read is built once per change: every input change shows at once, nothing else rebuilds."""

from __future__ import annotations

import dataclasses

import pytest

from apf_core.domain.live import LiveStatus
from apf_core.lifecycle.status import StatusViews
from tests.api.control_doubles import ScriptedControl
from tests.api.test_filament_trays import _report
from tests.api.test_printers import register

STORED = {
    "status": "idle",
    "awaiting_bed_clear": False,
    "current_job_id": None,
    "print_started_at": None,
    "current_color": None,
    "current_color_hex": None,
    "current_filament_type": None,
    "last_telemetry_at": None,
}


def test_a_report_replaces_the_live_state_instead_of_changing_it() -> None:
    live = LiveStatus(online=True, status="idle")
    with pytest.raises(dataclasses.FrozenInstanceError):
        live.status = "printing"  # type: ignore[misc]


def test_unchanged_inputs_give_the_same_view_and_any_changed_one_a_new_view() -> None:
    views = StatusViews()
    live = LiveStatus(online=True, status="printing", progress=10.0)
    caps = frozenset({"light", "ams"})
    first = views.view("p1", STORED, live, True, caps)
    assert views.view("p1", STORED, live, True, caps) is first
    assert first["capabilities"] == ["ams", "light"] and first["progress"] == 10.0

    newer = dataclasses.replace(live, progress=11.0)
    assert views.view("p1", STORED, newer, True, caps)["progress"] == 11.0
    offline = views.view("p1", STORED, newer, False, caps)
    assert offline["status"] == "offline" and offline["progress"] is None
    fewer = views.view("p1", STORED, newer, False, frozenset({"light"}))
    assert fewer["capabilities"] == ["light"]
    restored = views.view("p1", {**STORED, "current_color": "RED"}, newer, False, frozenset())
    assert restored["current_color"] == "RED" and restored["capabilities"] == []
    # another printer with the very same inputs has its own view
    assert views.view("p2", STORED, live, True, caps)["printer_id"] == "p2"


def test_the_cache_is_bounded() -> None:
    views = StatusViews(size=3)
    live = LiveStatus(online=True, status="idle")
    for n in range(10):
        views.view(f"p{n}", STORED, live, True, None)
    assert len(views._views) <= 3


async def test_every_poll_sees_the_newest_report_at_once(api) -> None:
    printer = await register(api)
    api.farm.control = control = ScriptedControl()
    pid = printer["id"]
    path = f"/printers/{pid}/status"
    await _report(api, pid, LiveStatus(online=True, status="idle"))  # once its driver gave up
    for progress in (5.0, 6.0, 7.0):
        api.farm.live.set(pid, LiveStatus(online=True, status="printing", progress=progress))
        first = await api.get(path)
        again = await api.get(path)
        assert first.status == 200 and first.data["progress"] == progress
        assert again.data == first.data
    control.online = False  # the hub went away: the same live object, another view
    gone = await api.get(path)
    assert gone.data["status"] == "offline" and gone.data["progress"] is None
    assert gone.data["hub_online"] is False
