"""The driver manager: one driver per active printer, behind :class:`PrinterControl`.

Printers on the embedded hub get a driver in this process. Printers on a
remote hub are served by a :class:`RemoteExecutor` (the MQTT hub link), which
the hub runtime registers with :meth:`DriverManager.set_remote`.

The manager follows ``printer.created/updated/deleted`` events: it attaches,
reconnects (connection changed) or detaches drivers without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from ..aio import cancel_and_wait
from ..domain.control import (
    CapabilityMissing,
    CommandAck,
    HubCommandFailed,
    HubOffline,
    PrinterCommand,
)
from ..domain.events import Event
from ..storage.tables.spine import printers
from . import create_driver
from .base import (
    CapabilityNotSupported,
    CommandIgnored,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PrinterDriver,
    PrinterState,
    PrinterUnreachable,
    StartOptions,
    Status,
)

if TYPE_CHECKING:
    from ..farm import Farm
    from ..telemetry import TelemetryBridge

_LOGGER = logging.getLogger(__name__)

#: uploads take longer than a button press: start gets this many command timeouts
START_TIMEOUT_FACTOR = 10.0
EXTERNAL_SPOOL = 254
DEFAULT_LOAD_TEMPERATURE = 220.0

DriverFactory = Callable[[ConnectionConfig], PrinterDriver]


class RemoteExecutor(Protocol):
    """What a remote-hub link offers the manager (see :mod:`apf_core.runtime.hubs`)."""

    def is_online(self, hub_id: str, printer_id: str) -> bool: ...

    async def execute(
        self,
        hub_id: str,
        printer_id: str,
        command: PrinterCommand,
        timeout: float,
    ) -> CommandAck: ...

    async def printers_changed(self, hub_id: str) -> None: ...

    async def query(self, hub_id: str, printer_id: str, what: str, timeout: float) -> Any: ...


def command_timeout(
    command: PrinterCommand, timeout: float, driver: PrinterDriver | None = None
) -> float:
    """The ACK deadline; a start also covers the upload, which grows with the file."""
    if command.action != "start":
        return timeout
    default = timeout * START_TIMEOUT_FACTOR
    if driver is None:
        return default
    try:
        size = Path(command.params["path"]).stat().st_size
    except (OSError, KeyError):
        return default
    return driver.start_timeout(size, default)


def start_options(params: dict[str, Any]) -> StartOptions:
    """Per-job start settings carried in a ``start`` command's params (all optional)."""
    mapping = params.get("ams_mapping")
    use_ams = params.get("use_ams")
    return StartOptions(
        plate=int(params["plate"]) if params.get("plate") else None,
        use_ams=None if use_ams is None else bool(use_ams),
        ams_mapping=tuple(int(t) for t in mapping) if mapping else None,
        task_id=str(params["task_id"]) if params.get("task_id") else None,
    )


async def run_command(driver: PrinterDriver, command: PrinterCommand) -> None:
    """Translate one :class:`PrinterCommand` into the driver call (shared with hubs)."""
    p = command.params
    match command.action:
        case "start":
            await driver.start_print(Path(p["path"]), str(p["filename"]), start_options(p))
        case "pause":
            await driver.pause()
        case "resume":
            await driver.resume()
        case "stop":
            await driver.stop()
        case "light":
            await driver.set_light(bool(p["on"]))
        case "temperature":
            await driver.set_temperature(str(p["heater"]), float(p["target"]))
        case "filament_load":
            tray = p.get("tray_id")
            temperature = p.get("temperature")
            await driver.load_filament(
                EXTERNAL_SPOOL if tray is None else int(tray),
                DEFAULT_LOAD_TEMPERATURE if temperature is None else float(temperature),
            )
        case "filament_unload":
            await driver.unload_filament()
        case "home":
            await driver.home()
        case "gcode":
            await driver.send_gcode(str(p["script"]))
        case "cooldown":
            await driver.cooldown()
        case "speed":
            await driver.set_speed(str(p["level"]))
        case "power":
            await driver.set_power(str(p["device"]), bool(p["on"]))
        case "clear_result":
            driver.clear_result()
        case _:
            raise DriverError(f"unknown command: {command.action}")


async def execute_on_driver(
    driver: PrinterDriver,
    command: PrinterCommand,
    timeout: float,
) -> CommandAck:
    """Run a command with an ACK deadline and map driver errors to control errors."""
    limit = command_timeout(command, timeout, driver)
    try:
        await asyncio.wait_for(run_command(driver, command), limit)
    except CapabilityNotSupported as err:
        raise CapabilityMissing(
            f"Printer does not support this command (missing capability: {err.capability.value})"
        ) from None
    except PrinterUnreachable as err:
        raise HubOffline(f"Printer is unreachable: {err}") from None
    except CommandIgnored as err:
        raise HubCommandFailed(str(err), code=err.code) from None
    except (TimeoutError, CommandTimeout):
        raise HubCommandFailed(
            f"Printer did not acknowledge '{command.action}' within {limit:g} s"
        ) from None
    except DriverError as err:
        message = f"Printer refused '{command.action}': {err}"
        raise HubCommandFailed(message, code=err.code) from None
    return CommandAck(command.command_id)


#: reads from a printer (not commands): the camera picture and the power devices
QUERIES = ("snapshot", "power_devices")


async def query_driver(driver: PrinterDriver, what: str, timeout: float) -> Any:
    """Run one read on a driver (shared with hubs): JPEG bytes or a list of PowerDevice."""
    try:
        if what == "snapshot":
            return await asyncio.wait_for(driver.snapshot(), timeout)
        if what == "power_devices":
            return await asyncio.wait_for(driver.power_devices(), timeout)
    except CapabilityNotSupported as err:
        raise CapabilityMissing(str(err)) from None
    except PrinterUnreachable as err:
        raise HubOffline(f"Printer is unreachable: {err}") from None
    except (TimeoutError, CommandTimeout):
        raise HubCommandFailed(f"Printer did not answer '{what}' within {timeout:g} s") from None
    except DriverError as err:
        raise HubCommandFailed(f"Printer could not '{what}': {err}", code=err.code) from None
    raise HubCommandFailed(f"unknown query: {what}")


def _fingerprint(row: dict[str, Any]) -> str:
    return json.dumps([row["protocol"], row["connection"] or {}], sort_keys=True, default=str)


class DriverManager:
    """Implements :class:`~apf_core.domain.control.PrinterControl` for the whole farm."""

    def __init__(
        self, farm: Farm, telemetry: TelemetryBridge, *, factory: DriverFactory = create_driver
    ) -> None:
        self.farm = farm
        self.telemetry = telemetry
        self._factory = factory
        self._drivers: dict[str, PrinterDriver] = {}
        self._fingerprints: dict[str, str] = {}
        self._remove_listener: dict[str, Callable[[], None]] = {}
        self._connecting: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: printer id -> remote hub id, for printers whose drivers run on a LAN hub
        self.remote_printers: dict[str, str] = {}
        self._remote_prints: dict[str, str] = {}  # printer id -> fingerprint, hub printers
        self._remote: RemoteExecutor | None = None
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self._in_flight: dict[str, int] = {}

    # --- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        self._unsubscribe = self.farm.events.subscribe(self._on_event)
        await self.reload()

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in tuple(self._tasks):
            task.cancel()
        for printer_id in tuple(self._drivers):
            await self.detach(printer_id)

    def set_remote(self, remote: RemoteExecutor | None) -> None:
        self._remote = remote

    async def reload(self) -> None:
        """Bring drivers in line with the printers table (``reload_printers``)."""
        async with self._reload_lock:
            async with self.farm.db.read() as conn:
                rows = [
                    dict(r)
                    for r in (
                        await conn.execute(
                            select(
                                printers.c.id,
                                printers.c.protocol,
                                printers.c.connection,
                                printers.c.is_active,
                                printers.c.hub_id,
                            )
                        )
                    ).mappings()
                ]
            wanted: set[str] = set()
            remote: dict[str, str] = {}
            remote_prints: dict[str, str] = {}
            for row in rows:
                if not row["is_active"]:
                    continue
                if row["hub_id"] and row["hub_id"] != self.farm.embedded_hub_id:
                    remote[row["id"]] = row["hub_id"]
                    remote_prints[row["id"]] = _fingerprint(row)
                    continue
                wanted.add(row["id"])
                if self._fingerprints.get(row["id"]) != _fingerprint(row):
                    await self.detach(row["id"])
                    await self.attach(row)
            for printer_id in set(self._drivers) - wanted:
                await self.detach(printer_id)
            changed_hubs = {h for p, h in remote.items() if self.remote_printers.get(p) != h} | {
                h for p, h in self.remote_printers.items() if remote.get(p) != h
            }
            # a hub printer whose connection changed: its hub rebuilds the driver
            changed_hubs |= {
                remote[p] for p, f in remote_prints.items() if self._remote_prints.get(p) != f
            }
            self._remote_prints = remote_prints
            for printer_id in set(self.remote_printers) - set(remote):
                self.telemetry.printer_gone(printer_id)
            for printer_id in set(remote) - set(self.remote_printers):
                if self.farm.live.get(printer_id) is None:  # offline until its hub reports
                    self.telemetry.on_state(printer_id, PrinterState())
            self.remote_printers = remote
        if self._remote is not None:
            for hub_id in changed_hubs:
                await self._remote.printers_changed(hub_id)

    async def attach(self, row: dict[str, Any]) -> None:
        printer_id = str(row["id"])
        config = ConnectionConfig(str(row["protocol"]), dict(row["connection"] or {}))
        try:
            driver = self._factory(config)
        except Exception as err:  # a bad stored config must not stop the farm
            _LOGGER.warning(
                "cannot create the %s driver for printer %s: %s", row["protocol"], printer_id, err
            )
            return
        self._drivers[printer_id] = driver
        self._fingerprints[printer_id] = _fingerprint(row)
        self._remove_listener[printer_id] = driver.add_listener(self.telemetry.listener(printer_id))
        self.telemetry.on_state(printer_id, driver.state)  # a printer that never answers is offline
        task = asyncio.create_task(self._connect(printer_id, driver), name=f"connect {printer_id}")
        self._connecting[printer_id] = task

    async def _connect(self, printer_id: str, driver: PrinterDriver) -> None:
        try:
            await driver.connect()
        except asyncio.CancelledError:
            raise
        except Exception as err:
            _LOGGER.warning("printer %s: connection failed: %s", printer_id, err)
        finally:
            self._connecting.pop(printer_id, None)

    async def detach(self, printer_id: str) -> None:
        driver = self._drivers.pop(printer_id, None)
        self._fingerprints.pop(printer_id, None)
        task = self._connecting.pop(printer_id, None)
        with contextlib.suppress(Exception):  # its error was logged by the connect task
            await cancel_and_wait(task)
        remove = self._remove_listener.pop(printer_id, None)
        if remove is not None:
            remove()
        if driver is not None:
            try:
                await driver.close()
            except Exception:
                _LOGGER.exception("printer %s: error while closing its driver", printer_id)
        self.telemetry.printer_gone(printer_id)

    def driver(self, printer_id: str) -> PrinterDriver | None:
        """The local driver of a printer (tests reach the simulator's fault hooks here)."""
        return self._drivers.get(printer_id)

    # --- PrinterControl ----------------------------------------------------------
    def is_online(self, printer_id: str) -> bool:
        driver = self._drivers.get(printer_id)
        if driver is not None:
            return driver.state.status is not Status.OFFLINE
        hub_id = self.remote_printers.get(printer_id)
        if hub_id is not None and self._remote is not None:
            return self._remote.is_online(hub_id, printer_id)
        return False

    def command_in_flight(self, printer_id: str) -> bool:
        """True while a command to the printer awaits its ACK (telemetry then does not
        mirror pause/resume made at the printer: the API call owns the job state)."""
        return self._in_flight.get(printer_id, 0) > 0

    async def execute(
        self,
        printer_id: str,
        command: PrinterCommand,
        *,
        timeout: float = 30.0,
    ) -> CommandAck:
        self._in_flight[printer_id] = self._in_flight.get(printer_id, 0) + 1
        try:
            return await self._execute(printer_id, command, timeout)
        finally:
            self._in_flight[printer_id] -= 1

    async def _execute(
        self,
        printer_id: str,
        command: PrinterCommand,
        timeout: float,
    ) -> CommandAck:
        hub_id = self.remote_printers.get(printer_id)
        if hub_id is not None:
            if self._remote is None:
                raise HubOffline("The printer's hub is not connected")
            return await self._remote.execute(hub_id, printer_id, command, timeout)
        driver = self._drivers.get(printer_id)
        if driver is None:
            raise HubOffline("No driver is running for this printer")
        lock = self._locks.setdefault(printer_id, asyncio.Lock())
        async with lock:  # one command at a time per printer
            return await execute_on_driver(driver, command, timeout)

    async def query(self, printer_id: str, what: str, *, timeout: float = 30.0) -> Any:
        """A read from the printer (see :data:`QUERIES`), wherever its driver runs."""
        hub_id = self.remote_printers.get(printer_id)
        if hub_id is not None:
            if self._remote is None:
                raise HubOffline("The printer's hub is not connected")
            return await self._remote.query(hub_id, printer_id, what, timeout)
        driver = self._drivers.get(printer_id)
        if driver is None:
            raise HubOffline("No driver is running for this printer")
        return await query_driver(driver, what, timeout)

    # --- events --------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if event.type not in ("printer.created", "printer.updated", "printer.deleted"):
            return
        self._spawn(self.reload())

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                _LOGGER.exception("driver manager: reload failed")

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
