"""A real Home Assistant end to end against a real ``apf serve --demo``.

Starts a ``hass`` process of the given version with a fresh config directory holding only
custom_components/autoprintfarm (what HACS copies), onboards it and runs the config flow over
REST, then checks through the REST and websocket APIs: a device per printer plus the farm, no
entity unavailable, the pause button pausing the real printer with the status entity following
by push (p50/p99 over repeated pause/resume), the Assist sentences through
/api/conversation/process, and entities going unavailable when the server dies and recovering
when it returns. Prints the figures next to the goals; exits non-zero on failure.

    scripts/ha_e2e.py --ha 2025.4.4      # the clone's .venv (Home Assistant 2025.4.4)
    scripts/ha_e2e.py --ha 2026.10.4     # the cached venv of scripts/ha_today.sh (Python 3.14)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))

from _e2e_ha import FarmProcess, HassProcess, HassRuntime, Report, free_port
from _e2e_ha_api import HassApi

CLONE = Path(__file__).resolve().parents[1]
PUSH_GOAL_S = 1.0
UNAVAILABLE_GOAL_S = 30.0
RECOVERY_GOAL_S = 90.0


async def run(version: str, rounds: int, keep: bool) -> int:
    runtime = HassRuntime.for_version(version, CLONE)
    if runtime.skip_reason:
        print(f"ha_e2e {version}: SKIPPED: {runtime.skip_reason}")
        return 0
    report = Report(version)
    work = runtime.make_workdir()
    farm = FarmProcess(CLONE, work / "farm", free_port())
    hass = HassProcess(runtime, work / "config", free_port())
    try:
        await farm.start()
        hass.install(CLONE / "custom_components" / "autoprintfarm")
        await hass.start()
        async with aiohttp.ClientSession() as session:
            api = HassApi(session, hass.url)
            await api.onboard()
            await api.add_integration(farm.url, farm.api_key)
            try:
                await check_everything(api, farm, hass, report, rounds)
            finally:
                await api.close()
    except Exception as err:  # the report says what failed; the log tail says why
        report.fail(f"{type(err).__name__}: {err}")
        print(hass.log_tail(), file=sys.stderr)
    finally:
        await hass.stop()
        await farm.stop()
        if report.ok and not keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs and data kept in {work}")
    if not hass.no_integration_errors():
        report.fail("Home Assistant logged errors or deprecation reports from autoprintfarm")
        print(hass.integration_log_lines(), file=sys.stderr)
    report.print()
    return 0 if report.ok else 1


async def check_everything(
    api: HassApi, farm: FarmProcess, hass: HassProcess, report: Report, rounds: int
) -> None:
    printers = await farm.printers()
    await api.connect_ws()
    devices = await api.devices()
    report.check(
        "devices",
        len(devices) == len(printers) + 1,
        f"{len(devices)} (goal {len(printers)} + farm)",
    )
    entities = await api.wait_settled()
    unavailable = [e for e, s in entities.items() if s in ("unavailable", "missing")]
    report.check("entities unavailable", not unavailable, f"{len(unavailable)} of {len(entities)}")
    if unavailable:
        print("  unavailable:", ", ".join(sorted(unavailable)))
    voron = next(p for p in printers if p["name"].startswith("Voron"))
    await push_rounds(api, farm, report, voron, rounds)
    await voice(api, farm, report, voron)
    hass.mark_outage()
    await outage(api, farm, report)


def _must(entity_id: str) -> bool:
    """Entities that have a value on an idle demo farm (images, end times may be empty)."""
    return not entity_id.startswith(("image.", "event.")) and not entity_id.endswith(
        ("_end_time", "_current_job", "_current_file")
    )


async def push_rounds(
    api: HassApi, farm: FarmProcess, report: Report, printer: dict[str, str], rounds: int
) -> None:
    status = await api.entity_for(printer["id"], "status", "sensor.")
    pause = await api.entity_for(printer["id"], "pause", "button.")
    resume = await api.entity_for(printer["id"], "resume", "button.")
    samples: list[float] = []
    farm_paused = True
    for _ in range(rounds):
        await farm.ensure_printing(printer["id"])
        await api.wait_state(status, "printing", timeout=10)
        samples.append(await api.press_and_time(pause, status, "paused"))
        farm_paused &= (await farm.status(printer["id"]))["status"] == "paused"
        samples.append(await api.press_and_time(resume, status, "printing"))
    report.check("pause button pauses the farm printer", farm_paused, f"{rounds} of {rounds}")
    p50, p99 = _percentile(samples, 50), _percentile(samples, 99)
    print("  push samples (ms):", " ".join(f"{x * 1000:.0f}" for x in samples), flush=True)
    report.check(
        "status follows the button by push",
        p99 < PUSH_GOAL_S,
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"
        f" over {len(samples)} presses (goal p99 < {PUSH_GOAL_S * 1000:.0f} ms)",
    )


def _percentile(samples: list[float], pct: int) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def voice(api: HassApi, farm: FarmProcess, report: Report, printer: dict[str, str]) -> None:
    name = printer["name"]
    await farm.ensure_printing(printer["id"])
    status = await api.entity_for(printer["id"], "status", "sensor.")
    await api.wait_state(status, "printing", timeout=10)
    said = await api.say("pause the Voron")
    paused = (await farm.status(printer["id"]))["status"] == "paused"
    report.check('"pause the Voron"', said == f"Paused {name}" and paused, repr(said))
    said = await api.say("what is the Voron doing")
    report.check('"what is the Voron doing"', said.startswith(f"{name} is paused"), repr(said))
    said = await api.say("resume the Voron")
    resumed = (await farm.status(printer["id"]))["status"] == "printing"
    report.check('"resume the Voron"', said == f"Resumed {name}" and resumed, repr(said))
    light = await api.entity_for(printer["id"], "chamber_light", "light.")
    said = await api.say("turn on the Voron light")
    on = await api.wait_state(light, "on", timeout=10, fail=False)
    lit = (await farm.status(printer["id"])).get("light_on")
    figure = f"{said!r}; farm light_on={lit}, {light}={api.states_now.get(light)}"
    report.check('"turn on the Voron light"', on and lit is True, figure)
    said = await api.say("pause the Dragon printer")
    report.check(
        "unknown printer gets the printer names", "There is no printer called Dragon" in said, said
    )


async def outage(api: HassApi, farm: FarmProcess, report: Report) -> None:
    watched = [e for e, s in (await api.states()).items() if s != "unavailable" and _must(e)]
    await farm.kill()
    down = await api.wait_all(watched, lambda s: s == "unavailable", UNAVAILABLE_GOAL_S * 2)
    report.check(
        "server killed: entities unavailable",
        down is not None and down < UNAVAILABLE_GOAL_S,
        f"{len(watched)} entities in {_secs(down)} (goal < {UNAVAILABLE_GOAL_S:.0f} s)",
    )
    await farm.start()
    start = time.monotonic()
    up = await api.wait_all(watched, lambda s: s != "unavailable", RECOVERY_GOAL_S * 2)
    took = None if up is None else time.monotonic() - start
    report.check(
        "server back: entities recover",
        took is not None and took < RECOVERY_GOAL_S,
        f"{len(watched)} entities in {_secs(took)} (goal < {RECOVERY_GOAL_S:.0f} s)",
    )


def _secs(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ha", required=True, choices=sorted(HassRuntime.VERSIONS))
    parser.add_argument("--rounds", type=int, default=20, help="pause/resume rounds")
    parser.add_argument("--keep", action="store_true", help="keep the config and data dirs")
    args = parser.parse_args()
    return asyncio.run(run(args.ha, args.rounds, args.keep))


if __name__ == "__main__":
    sys.exit(main())
