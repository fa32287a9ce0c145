"""Fixtures for the runtime tests: a real server whose printers are fast simulators."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, insert

from apf_core.demo.gcode import demo_gcode
from apf_core.drivers.simulator import SimulatedPrinter
from apf_core.storage.db import Database
from apf_core.storage.tables.spine import file_versions, print_files
from apf_core.timeutil import new_id, utcnow
from tests.api.conftest import Api, Reply, api, empty_api, farm_options  # noqa: F401


@contextlib.asynccontextmanager
async def sqlite_with(tmp_path: Path, metadata: MetaData) -> AsyncIterator[Database]:
    """A SQLite database holding only the tables of ``metadata``, disposed of afterwards."""
    database = Database(f"sqlite:///{tmp_path / 'farm.db'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


#: simulated seconds per wall second, and the simulated length of every print
FAST = {"speed": 600, "print_seconds": 900, "tick": 0.05, "has_light": True}


@dataclass
class Farm:
    """Test helper around the ``api`` fixture."""

    api: Api

    async def add_printer(self, name: str, **fields: Any) -> str:
        connection = {**FAST, **fields.pop("connection", {})}
        body = {
            "name": name,
            "protocol": "simulated",
            "model": "MK4",
            "nozzle_size": 0.4,
            "current_filament_type": "PLA",
            "current_color": "Black",
            "current_color_hex": "#000000",
            "connection": connection,
            **fields,
        }
        reply = await self.api.post("/printers", json=body, key="write")
        assert reply.status == 201, reply.body
        printer_id = str(reply.data["id"])
        await self.wait_for(
            lambda: self.sim(printer_id) is not None and self.online(printer_id),
            what=f"{name} online",
        )
        return printer_id

    async def add_file(
        self,
        name: str = "part.gcode",
        *,
        model: str | None = None,
        nozzle: float | None = 0.4,
        filament: str = "PLA",
        content: str | None = None,
    ) -> str:
        farm = self.api.farm
        file_id = new_id()
        key = f"{file_id}/v1/{name}"
        path = farm.settings.files_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            content = demo_gcode(
                name, minutes=30, layers=20, grams=5.0, filament=filament, model=""
            )
        path.write_text(content)
        now = utcnow()
        async with farm.db.begin() as conn:
            await conn.execute(
                insert(print_files).values(
                    id=file_id,
                    name=name,
                    file_size_bytes=len(content),
                    print_time_seconds=1800,
                    filament_weight_grams=5.0,
                    filament_type=filament,
                    printer_model_id=model,
                    nozzle_diameter=nozzle,
                    layer_count=20,
                    storage_key=key,
                    created_at=now,
                    updated_at=now,
                )
            )
            await conn.execute(
                insert(file_versions).values(
                    id=new_id(),
                    file_id=file_id,
                    version_number=1,
                    storage_key=key,
                    is_current_version=True,
                    created_at=now,
                )
            )
        return file_id

    async def enqueue(self, file_id: str, **body: Any) -> dict[str, Any]:
        reply = await self.api.post("/jobs", json={"print_file_id": file_id, **body}, key="write")
        assert reply.status == 201, reply.body
        return dict(reply.data)

    async def job(self, job_id: str) -> dict[str, Any]:
        return dict((await self.api.get(f"/jobs/{job_id}", key="read")).data)

    async def printer(self, printer_id: str) -> dict[str, Any]:
        return dict((await self.api.get(f"/printers/{printer_id}", key="read")).data)

    async def status(self, printer_id: str) -> dict[str, Any]:
        return dict((await self.api.get(f"/printers/{printer_id}/status", key="read")).data)

    async def control(self, printer_id: str, action: str, **extra: Any) -> Reply:
        return await self.api.post(
            f"/printers/{printer_id}/control", json={"action": action, **extra}, key="control"
        )

    async def set_dispatch(self, enabled: bool) -> None:
        reply = await self.api.put("/dispatch/settings", json={"enabled": enabled}, key="write")
        assert reply.data["enabled"] is enabled

    def sim(self, printer_id: str) -> SimulatedPrinter | None:
        driver = self.api.farm.drivers.driver(printer_id)
        return driver if isinstance(driver, SimulatedPrinter) else None

    def online(self, printer_id: str) -> bool:
        return bool(self.api.farm.control.is_online(printer_id))

    async def wait_for(
        self, check: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if isinstance(value, Awaitable):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def wait_job(self, job_id: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            job = await self.job(job_id)
            return job if job["status"] == status else None

        return dict(await self.wait_for(check, timeout=timeout, what=f"job {status}"))


@pytest.fixture  # type: ignore[no-redef]
def farm_options() -> dict[str, Any]:  # noqa: F811
    return {"demo": False, "command_timeout_seconds": 0.5, "rate_limit": 1_000_000}


@pytest.fixture(autouse=True)
def _dispatch_starts_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test turns auto-dispatch on (PUT /dispatch/settings) when it tests it."""
    monkeypatch.setenv("APF_AUTO_DISPATCH", "0")


@pytest.fixture
async def farm(api: Api) -> Farm:  # noqa: F811
    return Farm(api)


@pytest.fixture
async def broker_url(tmp_path: Any) -> Any:
    """The local Mosquitto on 1883 if it answers, else a private one, else skip."""
    from tests.runtime.broker import Broker, can_run_private, reachable

    if reachable("127.0.0.1", 1883):
        yield "mqtt://127.0.0.1:1883"
        return
    if not can_run_private():
        pytest.skip("no MQTT broker: nothing on 127.0.0.1:1883 and no /usr/sbin/mosquitto")
    broker = Broker(tmp_path)
    await broker.start()
    yield broker.url
    await broker.stop()


@pytest.fixture
async def private_broker(tmp_path: Any) -> Any:
    """A Mosquitto of our own (the test restarts it)."""
    from tests.runtime.broker import Broker, can_run_private

    if not can_run_private():
        pytest.skip("needs /usr/sbin/mosquitto to run a broker it can restart")
    broker = Broker(tmp_path)
    await broker.start()
    yield broker
    await broker.stop()
