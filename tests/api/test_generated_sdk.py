"""An SDK generated from the served OpenAPI document compiles and drives a real server.

The generator (openapi-python-client, pinned in ``scripts/sdkgen.sh``) lives in its own venv
outside the clone (``tests/peer_paths.py``); the client it writes runs here, in the test venv
(it needs only httpx, attrs and python-dateutil). Generation must be clean for the whole
document: no warning about a schema part it could not use, and the generated code passes
the generator's own ruff pass.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from apf_core.api.framework import BASE_PATH
from apf_core.drivers.base import SPEED_LEVELS, Status
from apf_core.services.printers import STATUSES
from tests.api.conftest import Api
from tests.peer_paths import sdkgen_dir

PACKAGE = "apf_sdk"
#: image responses are bytes to a client; the generator only knows octet-stream as bytes
CONFIG = {
    "package_name_override": PACKAGE,
    "project_name_override": "apf-sdk",
    "content_type_overrides": {
        f"image/{kind}": "application/octet-stream" for kind in ("png", "jpeg", "webp", "gif")
    },
}


def _generator() -> Path:
    venv = sdkgen_dir()
    tool = venv / "bin" / "openapi-python-client"
    if tool.exists():
        return tool
    reason = f"openapi-python-client is not installed in {venv}: run scripts/sdkgen.sh"
    if os.environ.get("CI"):  # scripts/test builds it, so CI must never skip this
        pytest.fail(reason)
    pytest.skip(reason)


def generate(document: dict[str, Any], workdir: Path) -> tuple[int, str]:
    """Run the generator on ``document``; its exit status and everything it printed."""
    tool = _generator()
    (workdir / "openapi.json").write_text(json.dumps(document))
    (workdir / "config.json").write_text(json.dumps(CONFIG))
    env = {**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["COLUMNS"] = "200"  # its rich console wraps messages at the terminal width
    proc = subprocess.run(
        [
            str(tool),
            "generate",
            "--path=openapi.json",
            "--config=config.json",
            "--meta=none",
            "--output-path=out",
            "--fail-on-warning",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def sdk_modules() -> Iterator[dict[str, ModuleType]]:
    """Forgets the generated package afterwards (each test generates its own)."""
    loaded: dict[str, ModuleType] = {}
    yield loaded
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


#: generated modules that fail to import because of a generator bug, not the document:
#: module -> (the error it raises, the upstream report). Checked exactly, so a fixed generator
#: (or a new failure) shows up here.
GENERATOR_BUGS = {
    # a required body with two content types (JSON or multipart) is annotated `| Unset`
    # without importing Unset: openapi-generators/openapi-python-client issue 1451
    f"{PACKAGE}.api.files.create_file": "name 'Unset' is not defined",
}


def _import_all(workdir: Path, loaded: dict[str, ModuleType]) -> dict[str, str]:
    """Imports every generated module; the ones that failed, with their error."""
    failed: dict[str, str] = {}
    sys.path.insert(0, str(workdir))
    try:
        package = importlib.import_module(PACKAGE)
        for info in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
            try:
                loaded[info.name] = importlib.import_module(info.name)
            except Exception as err:  # any error: a module that does not load is reported
                failed[info.name] = str(err)
    finally:
        sys.path.remove(str(workdir))
    return failed


async def test_generated_sdk_reads_printer_status(
    api: Api, tmp_path: Path, sdk_modules: dict[str, ModuleType]
) -> None:
    _generator()
    document = (await api.get("/openapi.json", key=None)).body
    status, output = await asyncio.to_thread(generate, document, tmp_path)
    assert status == 0, output
    assert "warning" not in output.lower(), output
    (tmp_path / "out").rename(tmp_path / PACKAGE)
    assert _import_all(tmp_path, sdk_modules) == GENERATOR_BUGS
    operations = [n for n in sdk_modules if n.startswith(PACKAGE + ".api.") and n.count(".") == 3]
    assert len(operations) + len(GENERATOR_BUGS) == sum(
        len(ops) for ops in document["paths"].values()
    )

    client_cls = sdk_modules[PACKAGE + ".client"].AuthenticatedClient
    root = api.server.api.removesuffix(BASE_PATH)
    async with client_cls(base_url=root, token=api.keys["all"]) as client:
        printer_id = await _list_printers(client, sdk_modules)
        await _read_status(client, printer_id, sdk_modules)
        await _create_colour(client, sdk_modules)


def _op(modules: dict[str, ModuleType], tag: str, name: str) -> Any:
    return modules[f"{PACKAGE}.api.{tag}.{name}"]


def _model(modules: dict[str, ModuleType], name: str) -> Any:
    return getattr(modules[PACKAGE + ".models"], name)


async def _list_printers(client: Any, modules: dict[str, ModuleType]) -> str:
    page = await _op(modules, "printers", "list_printers").asyncio(client=client)
    assert isinstance(page, _model(modules, "ListPrintersResponse200")), page
    assert page.success is True
    item_cls = _model(modules, "ListPrintersResponse200DataItem")
    assert page.data and all(isinstance(p, item_cls) for p in page.data)
    status_enum = _model(modules, "ListPrintersResponse200DataItemStatus")
    assert all(isinstance(p.status, status_enum) for p in page.data)
    assert {m.value for m in status_enum} == set(STATUSES)
    assert all(isinstance(p.created_at, datetime) for p in page.data)  # date-time is parsed
    jobs = await _op(modules, "jobs", "list_jobs").asyncio(client=client, limit=2)
    assert isinstance(jobs, _model(modules, "ListJobsResponse200")), jobs
    assert isinstance(jobs.meta, _model(modules, "ListJobsResponse200Meta"))
    assert (jobs.meta.limit, jobs.meta.count) == (2, len(jobs.data))
    return str(page.data[0].id)


async def _read_status(client: Any, printer_id: str, modules: dict[str, ModuleType]) -> None:
    op = _op(modules, "printers", "printer_status")
    reply = await op.asyncio(client=client, id=printer_id)
    assert isinstance(reply, _model(modules, "PrinterStatusResponse200")), reply
    live = reply.data
    assert isinstance(live, _model(modules, "PrinterStatusResponse200Data"))
    assert live.printer_id == printer_id
    status_enum = _model(modules, "PrinterStatusResponse200DataStatus")
    assert isinstance(live.status, status_enum)
    # the SDK's enum is the server's own list of live statuses, generated from STATUS_SCHEMA
    assert {m.value for m in status_enum} == {s.value for s in Status} | {"maintenance"}
    speed_enum = _model(modules, "PrinterStatusResponse200DataSpeedLevelType0")
    assert live.speed_level is None or isinstance(live.speed_level, speed_enum)
    assert {m.value for m in speed_enum} == set(SPEED_LEVELS)
    for temp in (live.nozzle_temp, live.bed_temp, live.target_nozzle_temp):
        assert temp is None or (isinstance(temp, int | float) and not isinstance(temp, bool))
    assert isinstance(live.bed_clear_required, bool)
    assert isinstance(live.trays, list) and isinstance(live.messages, list)
    # a failure is typed too: the documented error envelope, not an exception or a blob
    missing = await op.asyncio_detailed(client=client, id="no-such-printer")
    assert missing.status_code == 404
    assert isinstance(missing.parsed, _model(modules, "Error"))
    assert missing.parsed.code == "PRINTER_NOT_FOUND" and missing.parsed.success is False


async def _create_colour(client: Any, modules: dict[str, ModuleType]) -> None:
    op = _op(modules, "colors", "create_color")
    body = _model(modules, "CreateColorBody")(
        color_name="sdk teal", hex_code="#00a0a0", filament_type="petg"
    )
    made = await op.asyncio_detailed(client=client, body=body)
    assert made.status_code == 201, made.content
    assert isinstance(made.parsed, _model(modules, "CreateColorResponse201"))
    preset = made.parsed.data
    assert isinstance(preset, _model(modules, "CreateColorResponse201Data"))
    assert (preset.color_name, preset.hex_code, preset.filament_type) == (
        "SDK TEAL",
        "#00A0A0",
        "PETG",
    )
    again = await op.asyncio_detailed(client=client, body=body)
    assert again.status_code == 409
    assert isinstance(again.parsed, _model(modules, "Error"))
    assert again.parsed.code == "DUPLICATE_COLOR"
