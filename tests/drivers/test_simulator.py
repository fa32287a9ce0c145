"""The simulated printer: estimates, lifecycle, faults, capabilities, AMS rules, cost."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from apf_core.drivers import create_driver
from apf_core.drivers.base import (
    Capability,
    CapabilityNotSupported,
    ConnectionConfig,
    DriverError,
    PrinterState,
    PrinterUnreachable,
    Status,
    Tray,
)
from apf_core.drivers.simulator import SimulatedPrinter
from apf_core.drivers.simulator_estimate import JobEstimate, estimate_job, parse_duration
from apf_core.drivers.simulator_model import SimJob
from tests.drivers.conftest import PRUSA_GCODE, wait_for, wait_for_status

MakeSim = Callable[..., SimulatedPrinter]
GcodeFile = Callable[..., Path]


# --- estimates --------------------------------------------------------------------


def test_parse_duration() -> None:
    assert parse_duration("1h 2m 3s") == 3723
    assert parse_duration("1d 0h 1m 0s") == 86460
    assert parse_duration("nonsense") is None


def test_estimate_prusaslicer(gcode_file: GcodeFile) -> None:
    estimate = estimate_job(gcode_file())
    assert estimate.duration_s == 3723
    assert estimate.total_layers == 4
    assert estimate.nozzle_target == 215
    assert estimate.bed_target == 60


def test_estimate_cura_header(gcode_file: GcodeFile) -> None:
    text = ";FLAVOR:Marlin\n;TIME:1375\n;LAYER_COUNT:120\nM140 S55\nM109 S200\n;LAYER:0\nG1 X1\n"
    estimate = estimate_job(gcode_file(text))
    assert (estimate.duration_s, estimate.total_layers) == (1375, 120)
    assert (estimate.nozzle_target, estimate.bed_target) == (200, 55)


def test_estimate_bambu_header_in_3mf(tmp_path: Path) -> None:
    plate = (
        "; HEADER_BLOCK_START\n; model printing time: 1m 39s; total estimated time: 9m 22s\n"
        "; total layer number: 7\n; HEADER_BLOCK_END\nM104 S220\n"
    )
    path = tmp_path / "part.gcode.3mf"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Metadata/plate_1.gcode", plate)
    estimate = estimate_job(path)
    assert (estimate.duration_s, estimate.total_layers, estimate.nozzle_target) == (562, 7, 220)


def test_estimate_without_header_uses_line_count(gcode_file: GcodeFile) -> None:
    estimate = estimate_job(gcode_file("G1 X1\n" * 3000))
    assert estimate.duration_s == 300  # 0.1 s per line
    assert estimate.total_layers is None
    assert (estimate.nozzle_target, estimate.bed_target) == (210, 60)  # defaults


def test_estimate_tiny_file_has_minimum_duration(gcode_file: GcodeFile) -> None:
    assert estimate_job(gcode_file("G28\n")).duration_s == 30


# --- lifecycle --------------------------------------------------------------------


def test_factory_builds_simulator() -> None:
    driver = create_driver(ConnectionConfig("simulated", {"has_ams": True}))
    assert isinstance(driver, SimulatedPrinter)
    assert Capability.AMS in driver.capabilities
    assert Capability.LIGHT in driver.capabilities
    assert driver.state.status is Status.OFFLINE


async def test_connect_and_close(make_sim: MakeSim) -> None:
    sim = make_sim()
    await sim.connect()
    assert sim.state.status is Status.IDLE
    assert sim.state.nozzle_temp == 22.0
    assert sim.state.light_on is False
    await sim.close()
    assert sim.state.status is Status.OFFLINE
    with pytest.raises(PrinterUnreachable):
        await sim.set_light(True)


async def test_full_print_lifecycle(make_sim: MakeSim, gcode_file: GcodeFile) -> None:
    sim = make_sim(print_seconds=2400)
    seen: list[PrinterState] = []
    sim.add_listener(seen.append)
    await sim.connect()
    await sim.start_print(gcode_file(), "part.gcode")
    assert sim.state.status is Status.PREPARING
    assert (sim.state.nozzle_target, sim.state.bed_target) == (215, 60)
    assert sim.state.current_file == "part.gcode"
    assert sim.state.remaining_time_minutes == 40

    final = await wait_for_status(sim, Status.FINISHED)
    assert final.progress == 100
    assert final.layer_num == final.total_layers == 4
    assert final.remaining_time_minutes == 0
    assert final.nozzle_target == 0
    assert final.bed_target == 0

    statuses = [s.status for s in seen]
    order = [Status.IDLE, Status.PREPARING, Status.PRINTING, Status.FINISHED]
    assert [st for i, st in enumerate(statuses) if i == 0 or statuses[i - 1] != st] == order
    printing = [s for s in seen if s.status is Status.PRINTING]
    assert len(printing) >= 3, "progress should be reported along the way"
    progress = [s.progress for s in printing]
    assert progress == sorted(progress)
    assert 0 < progress[-1] < 100
    remaining = [s.remaining_time_minutes for s in printing]
    assert remaining == sorted(remaining, reverse=True)
    # the heaters were at temperature before printing began
    assert printing[0].nozzle_temp is not None
    assert printing[0].nozzle_temp >= 213
    # after the print, the heaters cool down again
    await wait_for(sim, lambda s: s.nozzle_temp is not None and s.nozzle_temp < 150)


def test_progress_reaches_100_only_when_finished() -> None:
    # A print 1 s from the end of 2400 s is 99.96 % done; rounded, that read 100 while printing.
    job = SimJob("part.gcode", JobEstimate(2400, 4, 215, 60), phase=Status.PRINTING)
    assert not job.advance(2399, heaters_ready=True)
    printing = job.fields(None)
    assert (printing["status"], printing["progress"]) == (Status.PRINTING, 99.9)
    assert printing["remaining_time_minutes"] == 1
    assert job.advance(1, heaters_ready=True)
    done = job.fields(None)
    assert (done["status"], done["progress"], done["remaining_time_minutes"]) == (
        Status.FINISHED,
        100.0,
        0,
    )


async def test_start_while_busy_is_refused(make_sim: MakeSim, gcode_file: GcodeFile) -> None:
    sim = make_sim()
    await sim.connect()
    await sim.start_print(gcode_file(), "a.gcode")
    with pytest.raises(DriverError, match="busy"):
        await sim.start_print(gcode_file(), "b.gcode")


async def test_start_with_missing_file(make_sim: MakeSim, tmp_path: Path) -> None:
    sim = make_sim()
    await sim.connect()
    with pytest.raises(DriverError, match="cannot read"):
        await sim.start_print(tmp_path / "missing.gcode", "missing.gcode")
    assert sim.state.status is Status.IDLE


async def test_pause_resume_and_stop(make_sim: MakeSim, gcode_file: GcodeFile) -> None:
    sim = make_sim(print_seconds=100_000)
    await sim.connect()
    with pytest.raises(DriverError, match="not printing"):
        await sim.pause()
    await sim.start_print(gcode_file(), "part.gcode")
    await wait_for(sim, lambda s: s.status is Status.PRINTING and (s.progress or 0) > 0)

    await sim.pause()
    paused = sim.state
    assert paused.status is Status.PAUSED
    await asyncio.sleep(0.15)  # several ticks
    assert sim.state.progress == paused.progress
    await sim.pause()  # pausing twice is harmless

    await sim.resume()
    assert sim.state.status is Status.PRINTING
    await wait_for(sim, lambda s: (s.progress or 0) > (paused.progress or 0))

    await sim.stop()
    assert sim.state.status is Status.CANCELLED
    assert sim.state.nozzle_target == 0
    with pytest.raises(DriverError):
        await sim.resume()
    with pytest.raises(DriverError):
        await sim.stop()


async def test_pause_while_preparing_resumes_preparing(
    make_sim: MakeSim, gcode_file: GcodeFile
) -> None:
    sim = make_sim(speed=1)
    await sim.connect()
    await sim.start_print(gcode_file(), "part.gcode")
    await sim.pause()
    await sim.resume()
    assert sim.state.status is Status.PREPARING


# --- faults -----------------------------------------------------------------------


async def test_power_off_mid_print_then_back(make_sim: MakeSim, gcode_file: GcodeFile) -> None:
    sim = make_sim(print_seconds=20_000)
    await sim.connect()
    await sim.start_print(gcode_file(), "part.gcode")
    before = await wait_for(sim, lambda s: s.status is Status.PRINTING)

    sim.power_off()
    reason = "No answer: the simulated printer is switched off"
    assert sim.state == PrinterState(status=Status.OFFLINE, offline_reason=reason)
    for command in (sim.pause(), sim.set_light(True), sim.home()):
        with pytest.raises(PrinterUnreachable):
            await command
    await asyncio.sleep(0.2)
    assert sim.state.status is Status.OFFLINE

    sim.power_on()
    back = sim.state
    assert back.status is Status.PRINTING
    assert back.current_file == "part.gcode"
    assert (back.progress or 0) > (before.progress or 0), "the job kept running while unreachable"
    # tracking resumes: updates keep coming
    await wait_for(sim, lambda s: (s.progress or 0) > (back.progress or 0))


async def test_power_cut_loses_the_job(make_sim: MakeSim, gcode_file: GcodeFile) -> None:
    sim = make_sim(print_seconds=20_000)
    await sim.connect()
    await sim.start_print(gcode_file(), "part.gcode")
    sim.power_off(lose_job=True)
    sim.power_on()
    assert sim.state.status is Status.IDLE
    assert sim.state.current_file is None
    assert sim.state.nozzle_temp == 22.0


async def test_power_off_before_connect(make_sim: MakeSim) -> None:
    sim = make_sim()
    sim.power_off()
    await sim.connect()
    assert sim.state.status is Status.OFFLINE
    sim.power_on()
    assert sim.state.status is Status.IDLE


async def test_fail_ends_print_in_error(make_sim: MakeSim, gcode_file: GcodeFile) -> None:
    sim = make_sim(print_seconds=20_000)
    await sim.connect()
    await sim.start_print(gcode_file(), "part.gcode")
    await wait_for_status(sim, Status.PRINTING)
    sim.fail("Thermal runaway", code=7)
    state = sim.state
    assert (state.status, state.error, state.error_code) == (Status.ERROR, "Thermal runaway", 7)
    assert state.nozzle_target == 0
    await asyncio.sleep(0.1)
    assert sim.state.status is Status.ERROR
    # a new print clears the error
    await sim.start_print(gcode_file(), "next.gcode")
    assert sim.state.status is Status.PREPARING
    assert sim.state.error is None


async def test_fail_while_idle_and_clear(make_sim: MakeSim) -> None:
    sim = make_sim()
    await sim.connect()
    sim.fail("Filament runout")
    assert (sim.state.status, sim.state.error) == (Status.ERROR, "Filament runout")
    sim.clear_error()
    assert sim.state.status is Status.IDLE
    assert sim.state.error is None


async def test_hung_commands_time_out(make_sim: MakeSim) -> None:
    sim = make_sim()
    await sim.connect()
    sim.hang_commands(True)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sim.set_light(True), 0.1)
    assert sim.state.light_on is False
    sim.hang_commands(False)
    await asyncio.wait_for(sim.set_light(True), 0.1)
    assert sim.state.light_on is True


# --- hardware and capabilities -------------------------------------------------------


async def test_temperatures_ramp(make_sim: MakeSim) -> None:
    sim = make_sim(has_chamber=True)
    await sim.connect()
    await sim.set_temperature("nozzle", 200)
    await sim.set_temperature("bed", 55)
    await sim.set_temperature("chamber", 35)
    assert (sim.state.nozzle_target, sim.state.bed_target) == (200, 55)
    await wait_for(sim, lambda s: s.nozzle_temp == 200 and s.bed_temp == 55)
    await wait_for(sim, lambda s: s.chamber_temp == 35, timeout=10)
    with pytest.raises(DriverError, match="between"):
        await sim.set_temperature("nozzle", 400)
    with pytest.raises(DriverError, match="unknown heater"):
        await sim.set_temperature("hotend2", 200)


async def test_capability_errors(make_sim: MakeSim) -> None:
    sim = make_sim(has_light=False)
    await sim.connect()
    assert sim.state.light_on is None
    with pytest.raises(CapabilityNotSupported) as err:
        await sim.set_light(True)
    assert err.value.capability is Capability.LIGHT
    with pytest.raises(CapabilityNotSupported) as err:
        await sim.set_temperature("chamber", 40)
    assert err.value.capability is Capability.CHAMBER_TEMP
    with pytest.raises(CapabilityNotSupported) as err:
        await sim.load_filament(0, 220)  # AMS tray without an AMS
    assert err.value.capability is Capability.AMS


async def test_light_and_home(make_sim: MakeSim, gcode_file: GcodeFile) -> None:
    sim = make_sim(print_seconds=20_000)
    await sim.connect()
    await sim.set_light(True)
    assert sim.state.light_on is True
    await sim.home()
    await sim.start_print(gcode_file(), "part.gcode")
    with pytest.raises(DriverError, match="busy"):
        await sim.home()
    await sim.set_light(False)  # the light works while printing
    assert sim.state.light_on is False


async def test_gcode(make_sim: MakeSim) -> None:
    sim = make_sim()
    await sim.connect()
    await sim.send_gcode("M104 S180 ; preheat\nM140 S50\nM355 S1\nG28\nM117 hello")
    assert (sim.state.nozzle_target, sim.state.bed_target, sim.state.light_on) == (180, 50, True)
    with pytest.raises(DriverError, match="no G-code"):
        await sim.send_gcode("  ; only a comment\n")
    await sim.send_gcode("M112")
    assert (sim.state.status, sim.state.error) == (Status.ERROR, "Emergency stop")


async def test_external_spool_without_ams(make_sim: MakeSim) -> None:
    sim = make_sim()
    await sim.connect()
    assert [t.tray_id for t in sim.state.trays] == [254]
    await sim.load_filament(254, 215)
    assert (sim.state.active_tray, sim.state.nozzle_target) == (254, 215)
    await sim.unload_filament()
    assert sim.state.active_tray is None


async def test_ams_tray_rules(make_sim: MakeSim, gcode_file: GcodeFile) -> None:
    trays = [
        {"tray_id": 0, "filament_type": "PLA", "color_hex": "FFFFFFFF", "remaining_percent": 80},
        {"tray_id": 1, "filament_type": None},
        Tray(254, "PETG", "FF0000FF", None),
    ]
    sim = make_sim(has_ams=True, trays=trays, print_seconds=20_000)
    await sim.connect()
    assert [t.tray_id for t in sim.state.trays] == [0, 1, 254]
    assert sim.state.trays[0].remaining_percent == 80

    await sim.load_filament(0, 220)
    assert (sim.state.active_tray, sim.state.nozzle_target) == (0, 220)
    await sim.load_filament(254, 240)  # switching trays is allowed while idle
    assert sim.state.active_tray == 254
    with pytest.raises(DriverError, match="empty"):
        await sim.load_filament(1, 220)
    with pytest.raises(DriverError, match="unknown tray"):
        await sim.load_filament(5, 220)
    with pytest.raises(DriverError, match="between"):
        await sim.load_filament(0, 100)
    assert sim.state.active_tray == 254

    await sim.start_print(gcode_file(), "part.gcode")
    with pytest.raises(DriverError, match="busy"):
        await sim.load_filament(0, 220)
    with pytest.raises(DriverError, match="busy"):
        await sim.unload_filament()


async def test_default_ams_trays(make_sim: MakeSim) -> None:
    sim = make_sim(has_ams=True)
    await sim.connect()
    assert [t.tray_id for t in sim.state.trays] == [0, 1, 2, 3, 254]


# --- cost -------------------------------------------------------------------------


async def measure_thousand_printers(path: Path) -> float:
    """CPU share used by 1000 printing simulators at their default tick."""
    sims = [
        SimulatedPrinter(ConnectionConfig("simulated", {"speed": 60, "print_seconds": 100_000}))
        for _ in range(1000)
    ]
    try:
        for sim in sims:
            await sim.connect()
        await asyncio.gather(*(sim.start_print(path, "part.gcode") for sim in sims))
        await asyncio.sleep(1.0)  # let the ticks spread out
        cpu_before, wall_before = time.process_time(), time.monotonic()
        await asyncio.sleep(3.0)
        cpu = time.process_time() - cpu_before
        wall = time.monotonic() - wall_before
        assert all(sim.state.status in (Status.PREPARING, Status.PRINTING) for sim in sims)
        return cpu / wall
    finally:
        await asyncio.gather(*(sim.close() for sim in sims))


def test_thousand_printers_are_cheap(tmp_path: Path) -> None:
    """1000 printing simulators must not burn a CPU.

    Measured in a fresh interpreter: the test plugins run the loop in debug
    mode, which multiplies the cost of every callback.
    """
    path = tmp_path / "part.gcode"
    path.write_text(PRUSA_GCODE)
    script = (
        "import asyncio, sys; from pathlib import Path; "
        "from tests.drivers.test_simulator import measure_thousand_printers as m; "
        "print(asyncio.run(m(Path(sys.argv[1]))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    share = float(result.stdout.strip().splitlines()[-1])
    assert share < 0.25, f"1000 printers used {share:.0%} of a CPU"


async def test_idle_printers_do_not_tick(make_sim: MakeSim) -> None:
    sims = [make_sim(tick=0.01) for _ in range(200)]
    for sim in sims:
        await sim.connect()
    changes = 0

    def count(_: PrinterState) -> None:
        nonlocal changes
        changes += 1

    for sim in sims:
        sim.add_listener(count)
    cpu_before = time.process_time()
    await asyncio.sleep(0.5)
    assert changes == 0
    assert time.process_time() - cpu_before < 0.1
