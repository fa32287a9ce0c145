"""A time-accelerated simulated printer (protocol ``simulated``).

The printer lives inside the driver: a small physical model (heaters, job,
light, filament trays) advanced by one asyncio task per printer. The task
sleeps ``tick`` wall seconds between steps while something changes and waits
on an event while the printer is settled, so idle printers cost nothing and
a thousand printing ones share one process cheaply.

Connection options (all optional):

``speed``          simulated seconds per wall second (default 60)
``model``          model name shown to users (default "Simulated Printer")
``has_light``      chamber light present (default true)
``has_ams``        multi-tray feeder present (default false)
``has_chamber``    heated chamber present (default false)
``trays``          list of ``{"tray_id", "filament_type", "color_hex", "remaining_percent"}``
``print_seconds``  simulated duration of every print, overriding the file's estimate
``tick``           wall seconds between simulation steps (default 0.5)
``snapshot_url``   an HTTP camera whose JPEG :meth:`snapshot` returns (default: no camera)

Fault hooks for tests: :meth:`power_off`, :meth:`power_on`, :meth:`fail`,
:meth:`clear_error`, :meth:`show_messages` and :meth:`hang_commands`.
"""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path

from ..aio import cancel_and_wait
from .base import (
    Capability,
    ConnectionConfig,
    DriverError,
    PrinterDriver,
    PrinterMessage,
    PrinterState,
    PrinterUnreachable,
    StartOptions,
    Status,
)
from .camera import fetch_snapshot
from .simulator_estimate import MAX_TARGET, JobEstimate, estimate_job
from .simulator_model import (
    ACTIVE,
    AMBIENT_C,
    EXTERNAL_SPOOL,
    SimJob,
    approach,
    parse_trays,
)

_LOAD_TEMP_RANGE = (150.0, 320.0)


class SimulatedPrinter(PrinterDriver):
    """A printer that exists only in memory; see the module docstring for options."""

    protocol = "simulated"

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        options = config.options
        self.speed = float(options.get("speed", 60.0))
        self.tick = float(options.get("tick", 0.5))
        if self.speed <= 0 or self.tick <= 0:
            raise ValueError("speed and tick must be positive")
        self.model = str(options.get("model", "Simulated Printer"))
        self.has_light = bool(options.get("has_light", True))
        self.has_ams = bool(options.get("has_ams", False))
        self.has_chamber = bool(options.get("has_chamber", False))
        override = options.get("print_seconds")
        self.print_seconds: float | None = float(override) if override is not None else None
        capabilities = {
            Capability.PAUSE_RESUME,
            Capability.HEATERS,
            Capability.HOME,
            Capability.GCODE,
            Capability.FILAMENT_LOAD,
        }
        if self.has_light:
            capabilities.add(Capability.LIGHT)
        if self.has_ams:
            capabilities.add(Capability.AMS)
        if self.has_chamber:
            capabilities.add(Capability.CHAMBER_TEMP)
        self.snapshot_url = str(options.get("snapshot_url") or "")
        if self.snapshot_url:
            capabilities.add(Capability.CAMERA)
        self.capabilities = frozenset(capabilities)

        # physical state
        self._temps = {"nozzle": AMBIENT_C, "bed": AMBIENT_C, "chamber": AMBIENT_C}
        self._targets = {"nozzle": 0.0, "bed": 0.0, "chamber": 0.0}
        self._light = False
        self._trays = parse_trays(options.get("trays"), self.has_ams)
        self._active_tray: int | None = None
        self._job: SimJob | None = None
        self._fault: str | None = None  # a machine error outside a job
        self._error_code: int | None = None
        self._messages: tuple[PrinterMessage, ...] = ()

        # link and test hooks
        self._connected = False
        self._powered = True
        self._unhung = asyncio.Event()
        self._unhung.set()
        self._drop_starts = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------
    async def connect(self) -> None:
        if self._task is not None:
            return
        self._connected = True
        self._task = asyncio.create_task(self._run(), name=f"simulated-printer-{id(self):x}")
        self._publish()

    async def close(self) -> None:
        self._connected = False
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._set_state(PrinterState())

    async def snapshot(self) -> bytes:
        self.require(Capability.CAMERA)
        self._ensure_reachable()
        return await fetch_snapshot(self.snapshot_url, self.snapshot_url)

    # --- fault hooks -------------------------------------------------------------
    def power_off(self, lose_job: bool = False) -> None:
        """Make the printer unreachable.

        By default the machine keeps running behind the broken link (the job
        goes on, like a network outage); ``lose_job=True`` models a real power
        cut: the job, heaters and light are gone when it comes back.
        """
        self._powered = False
        if lose_job:
            self._job = None
            self._fault = None
            self._light = False
            self._active_tray = None
            for heater in self._targets:
                self._targets[heater] = 0.0
                self._temps[heater] = AMBIENT_C
        self._publish()

    def power_on(self) -> None:
        self._powered = True
        self._publish()
        self._wake.set()

    def show_messages(self, *messages: PrinterMessage) -> None:
        """What the printer says besides its state (like Bambu HMS); none clears them."""
        self._messages = messages
        self._publish()

    def fail(self, reason: str, code: int | None = None) -> None:
        """The running job (or the idle machine) stops with an error."""
        job = self._job
        if job is not None and job.phase in ACTIVE:
            job.phase = Status.ERROR
            job.error = reason
            self._heaters_off()
        else:
            self._fault = reason
        self._error_code = code
        self._publish()
        self._wake.set()

    def clear_result(self) -> None:
        """The bed was confirmed clear: forget a finished or cancelled job (idle again)."""
        if self._job is not None and self._job.phase not in ACTIVE:
            self._job = None
            self._publish()

    def clear_error(self) -> None:
        """Acknowledge a fault: the printer becomes idle again."""
        self._fault = None
        if self._job is not None and self._job.phase is Status.ERROR:
            self._job = None
        self._publish()

    def hang_commands(self, hang: bool) -> None:
        """While hung, commands never acknowledge (callers' timeouts fire)."""
        if hang:
            self._unhung.clear()
        else:
            self._unhung.set()

    def drop_starts(self, drop: bool) -> None:
        """While set, a start is acknowledged and then ignored: the printer stays idle."""
        self._drop_starts = drop

    # --- job control -------------------------------------------------------------
    async def start_print(
        self, path: Path, filename: str, options: StartOptions | None = None
    ) -> None:
        await self._acknowledge()
        if self._job is not None and self._job.phase in ACTIVE:
            raise DriverError("printer is busy with another print")
        try:
            estimate = await asyncio.to_thread(estimate_job, Path(path))
        except OSError as err:
            raise DriverError(f"cannot read the print file: {err.strerror or err}") from err
        except zipfile.BadZipFile as err:
            raise DriverError("the print file is a damaged archive") from err
        await self._acknowledge()  # the printer may have gone away while reading
        if self._drop_starts:
            return
        if self.print_seconds is not None:
            estimate = JobEstimate(
                self.print_seconds,
                estimate.total_layers,
                estimate.nozzle_target,
                estimate.bed_target,
            )
        self._fault = None
        self._error_code = None
        self._job = SimJob(filename=filename, estimate=estimate)
        self._targets["nozzle"] = estimate.nozzle_target
        self._targets["bed"] = estimate.bed_target
        self._publish()
        self._wake.set()

    async def pause(self) -> None:
        self.require(Capability.PAUSE_RESUME)
        await self._acknowledge()
        job = self._job
        if job is None or job.phase not in ACTIVE:
            raise DriverError("printer is not printing")
        if job.phase is not Status.PAUSED:
            job.resume_phase = job.phase
            job.phase = Status.PAUSED
        self._publish()

    async def resume(self) -> None:
        self.require(Capability.PAUSE_RESUME)
        await self._acknowledge()
        job = self._job
        if job is None or job.phase not in ACTIVE:
            raise DriverError("printer is not paused")
        if job.phase is Status.PAUSED:
            job.phase = job.resume_phase
        self._publish()
        self._wake.set()

    async def stop(self) -> None:
        await self._acknowledge()
        job = self._job
        if job is None or job.phase not in ACTIVE:
            raise DriverError("printer is not printing")
        job.phase = Status.CANCELLED
        self._heaters_off()
        self._publish()
        self._wake.set()

    # --- hardware ----------------------------------------------------------------
    async def set_temperature(self, heater: str, target: float) -> None:
        self.require(Capability.HEATERS)
        if heater == "chamber":
            self.require(Capability.CHAMBER_TEMP)
        if heater not in MAX_TARGET:
            raise DriverError(f"unknown heater: {heater}")
        if not 0 <= target <= MAX_TARGET[heater]:
            raise DriverError(f"{heater} target must be between 0 and {MAX_TARGET[heater]:g}")
        await self._acknowledge()
        self._targets[heater] = float(target)
        self._publish()
        self._wake.set()

    async def set_light(self, on: bool) -> None:
        self.require(Capability.LIGHT)
        await self._acknowledge()
        self._light = on
        self._publish()

    async def load_filament(self, tray_id: int, temperature: float) -> None:
        self.require(Capability.FILAMENT_LOAD)
        if tray_id != EXTERNAL_SPOOL:
            self.require(Capability.AMS)
        low, high = _LOAD_TEMP_RANGE
        if not low <= temperature <= high:
            raise DriverError(f"load temperature must be between {low:g} and {high:g}")
        await self._acknowledge()
        self._ensure_not_busy()
        tray = next((t for t in self._trays if t.tray_id == tray_id), None)
        if tray is None:
            raise DriverError(f"unknown tray: {tray_id}")
        if tray.filament_type is None:
            raise DriverError(f"tray {tray_id} is empty")
        self._targets["nozzle"] = float(temperature)
        self._active_tray = tray_id
        self._publish()
        self._wake.set()

    async def unload_filament(self) -> None:
        self.require(Capability.FILAMENT_LOAD)
        await self._acknowledge()
        self._ensure_not_busy()
        self._active_tray = None
        self._publish()

    async def home(self) -> None:
        self.require(Capability.HOME)
        await self._acknowledge()
        self._ensure_not_busy()

    async def send_gcode(self, script: str) -> None:
        self.require(Capability.GCODE)
        lines = [line.split(";", 1)[0].strip() for line in script.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            raise DriverError("no G-code to send")
        await self._acknowledge()
        for line in lines:
            self._apply_gcode(line)
        self._publish()
        self._wake.set()

    def _apply_gcode(self, line: str) -> None:
        words = line.upper().split()
        command = words[0]
        params = {word[0]: word[1:] for word in words[1:] if len(word) > 1}
        heater = {
            "M104": "nozzle", "M109": "nozzle", "M140": "bed", "M190": "bed",
            "M141": "chamber", "M191": "chamber",
        }.get(command)  # fmt: skip
        if heater is not None and "S" in params:
            if heater == "chamber" and not self.has_chamber:
                return
            value = _to_float(params["S"])
            if value is not None:
                self._targets[heater] = min(max(value, 0.0), MAX_TARGET[heater])
        elif command == "M355" and self.has_light:
            self._light = _to_float(params.get("S", "1")) != 0
        elif command == "M112":
            self.fail("Emergency stop")

    # --- internals ---------------------------------------------------------------
    async def _acknowledge(self) -> None:
        """Wait for the printer to answer, or raise when it cannot be reached."""
        self._ensure_reachable()
        await self._unhung.wait()
        self._ensure_reachable()

    def _ensure_reachable(self) -> None:
        if not self._connected:
            raise PrinterUnreachable("simulated printer is not connected")
        if not self._powered:
            raise PrinterUnreachable("simulated printer is powered off")

    def _ensure_not_busy(self) -> None:
        if self._job is not None and self._job.phase in ACTIVE:
            raise DriverError("printer is busy printing")

    def _heaters_off(self) -> None:
        for heater in self._targets:
            self._targets[heater] = 0.0

    def _settled(self) -> bool:
        if self._job is not None and self._job.phase in (Status.PREPARING, Status.PRINTING):
            return False
        return all(self._temps[h] == self._goal(h) for h in self._temps)

    def _goal(self, heater: str) -> float:
        target = self._targets[heater]
        return target if target > 0 else AMBIENT_C

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            if self._settled():
                self._wake.clear()
                await self._wake.wait()
                last = loop.time()  # nothing moved while settled
            await asyncio.sleep(self.tick)
            now = loop.time()
            self.advance((now - last) * self.speed)
            last = now

    def advance(self, seconds: float) -> None:
        """Move the simulation forward by ``seconds`` of printer time and publish."""
        for heater in self._temps:
            self._temps[heater] = approach(heater, self._temps[heater], self._goal(heater), seconds)
        job = self._job
        if job is not None and job.advance(seconds, self._heaters_ready()):
            self._heaters_off()
        self._publish()

    def _heaters_ready(self) -> bool:
        return (
            self._temps["nozzle"] >= self._targets["nozzle"] - 2.0
            and self._temps["bed"] >= self._targets["bed"] - 1.0
        )

    def _publish(self) -> None:
        if not (self._connected and self._powered):
            reason = None if self._powered else "No answer: the simulated printer is switched off"
            self._set_state(PrinterState(status=Status.OFFLINE, offline_reason=reason))
            return
        state = PrinterState(
            status=Status.IDLE,
            nozzle_temp=round(self._temps["nozzle"], 1),
            nozzle_target=self._targets["nozzle"],
            bed_temp=round(self._temps["bed"], 1),
            bed_target=self._targets["bed"],
            chamber_temp=round(self._temps["chamber"], 1) if self.has_chamber else None,
            light_on=self._light if self.has_light else None,
            trays=self._trays,
            active_tray=self._active_tray,
            messages=self._messages,
        )
        job = self._job
        if job is not None:
            state = state.evolve(**job.fields(self._error_code))
        if self._fault is not None:
            state = state.evolve(
                status=Status.ERROR, error=self._fault, error_code=self._error_code
            )
        self._set_state(state)


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


DRIVER = SimulatedPrinter
