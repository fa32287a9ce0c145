"""A fake PrusaLink printer: the v1 OpenAPI paths a farm manager uses, real digest auth.

Follows prusa3d/Prusa-Link-Web ``spec/openapi.yaml`` (see printer-protocols.md
section 4): ``/api/version``, ``/api/v1/info``, ``/api/v1/status``,
``/api/v1/job``, ``PUT|POST|HEAD|DELETE /api/v1/files/{storage}/{path}`` and
``PUT|DELETE /api/v1/job/{id}[/pause|/resume]``. A print takes
``print_seconds`` of wall time; pausing freezes it.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

REALM = "Printer API"
FIXTURES = Path(__file__).parent / "fixtures" / "prusalink"


def fixture(name: str) -> Any:
    """A documented response shape (fixtures/README.md names the sources)."""
    return json.loads((FIXTURES / name).read_text())


STATUS = fixture("status.json")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # the protocol mandates MD5


def parse_auth_header(value: str) -> dict[str, str]:
    """``Digest a="b", c=d`` -> ``{"a": "b", "c": "d"}``."""
    _, _, rest = value.partition(" ")
    fields: dict[str, str] = {}
    for part in _split_params(rest):
        key, _, raw = part.strip().partition("=")
        fields[key.strip().lower()] = raw.strip().strip('"')
    return fields


def _split_params(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


@dataclass
class _Job:
    job_id: int
    path: str
    size: int
    started: float
    state: str = "PRINTING"
    paused_at: float | None = None
    paused_total: float = 0.0
    ended_at: float | None = None


@dataclass
class FakePrusaLink:
    """The printer's state and its aiohttp application."""

    username: str = "maker"
    password: str = "secret-pass"
    use_qop: bool = False  # Buddy firmware's challenge carries no qop (RFC 2069 style)
    api_key: str | None = None  # also accept this legacy X-Api-Key (the Pi build does)
    print_seconds: float = 3.0
    storage: str = "usb"
    files: dict[str, bytes] = field(default_factory=dict)
    job: _Job | None = None
    fault: str | None = None  # printer.state ATTENTION with this message (the job stays)
    busy: bool = False  # printer.state BUSY (selftest, preheat menu, load/unload)
    legacy: bool = False  # old firmware: no /api/v1, /api/version answers api 0.1
    unavailable: bool = False  # answer 503 to everything
    delay_s: float = 0.0  # answer every request this late
    nonces: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) served
    rejected_auth: int = 0
    _next_job_id: int = 100

    # --- app ---------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/version", self._version)
        app.router.add_get("/api/v1/info", self._info)
        app.router.add_get("/api/v1/status", self._status)
        app.router.add_get("/api/v1/job", self._job)
        app.router.add_put("/api/v1/job/{job_id}/pause", self._pause)
        app.router.add_put("/api/v1/job/{job_id}/resume", self._resume)
        app.router.add_delete("/api/v1/job/{job_id}", self._stop)
        files = "/api/v1/files/{storage}/{path:.+}"
        app.router.add_put(files, self._upload)
        app.router.add_post(files, self._start)
        app.router.add_route("HEAD", files, self._head)
        app.router.add_delete(files, self._delete)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.unavailable:
            return web.Response(status=503, text="Service unavailable")
        if not self._authorised(request):
            self.rejected_auth += 1
            nonce = secrets.token_hex(16)
            self.nonces.add(nonce)
            challenge = f'Digest realm="{REALM}", nonce="{nonce}", algorithm=MD5'
            if self.use_qop:
                challenge += ', qop="auth"'
            return web.json_response(
                {"code": "401", "title": "Unauthorized", "text": "Authorization required"},
                status=401,
                headers={"WWW-Authenticate": challenge},
            )
        self.requests.append((request.method, request.path))
        response: web.StreamResponse = await handler(request)
        return response

    def _authorised(self, request: web.Request) -> bool:
        if "X-Api-Key" in request.headers:
            given = request.headers["X-Api-Key"]
            return self.api_key is not None and secrets.compare_digest(given, self.api_key)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = parse_auth_header(header)
        if fields.get("username") != self.username or fields.get("realm") != REALM:
            return False
        if fields.get("nonce") not in self.nonces:
            return False
        if fields.get("uri") != request.raw_path:
            return False
        ha1 = _md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = _md5(f"{request.method}:{fields['uri']}")
        if self.use_qop:
            if fields.get("qop") != "auth":
                return False
            expected = _md5(
                f"{ha1}:{fields['nonce']}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}"
            )
        else:
            expected = _md5(f"{ha1}:{fields['nonce']}:{ha2}")
        return secrets.compare_digest(expected, fields.get("response", ""))

    # --- simulation --------------------------------------------------------------
    def _progress(self, job: _Job) -> tuple[float, float]:
        """(progress percent, seconds printed) right now; finishes the job when due."""
        now = job.ended_at or job.paused_at or time.monotonic()
        printed = max(0.0, now - job.started - job.paused_total)
        if job.state == "PRINTING" and printed >= self.print_seconds:
            job.state = "FINISHED"
            job.ended_at = job.started + job.paused_total + self.print_seconds
            printed = self.print_seconds
        return min(100.0, printed / self.print_seconds * 100), printed

    def printer_state(self) -> str:
        if self.fault:
            return "ATTENTION"
        if self.busy:
            return "BUSY"
        if self.job is None:
            return "IDLE"
        self._progress(self.job)
        return self.job.state

    def _error(self, status: int, title: str, text: str) -> web.Response:
        body = fixture("error.json") | {"code": str(status), "title": title, "text": text}
        return web.json_response(body, status=status)

    def _current_job(self, request: web.Request) -> _Job | web.Response:
        job = self.job
        if job is None or str(job.job_id) != request.match_info["job_id"]:
            return self._error(404, "Not Found", "No such job")
        return job

    # --- handlers ----------------------------------------------------------------
    async def _version(self, _: web.Request) -> web.Response:
        if self.legacy:
            return web.json_response({"api": "0.1", "server": "1.3.0", "text": "PrusaLink"})
        return web.json_response(fixture("version.json"))

    async def _info(self, _: web.Request) -> web.Response:
        return web.json_response(fixture("info.json"))

    async def _status(self, _: web.Request) -> web.Response:
        if self.legacy:
            return web.Response(status=404, text="Not Found")
        state = self.printer_state()
        scenario = {
            "ATTENTION": "attention",
            "BUSY": "busy",
            "PRINTING": "printing",
            "PAUSED": "paused",
        }.get(state, "idle")
        body: dict[str, Any] = copy.deepcopy(STATUS[scenario])
        body["storage"].update(path=f"/{self.storage}/", name=self.storage)
        printer = body["printer"]
        printer["state"] = state
        if self.fault:
            printer["status_printer"] = {"ok": False, "message": self.fault}
        else:
            printer.pop("status_printer", None)
        body.pop("job", None)
        if self.job is not None:
            progress, printed = self._progress(self.job)
            body["job"] = copy.deepcopy(STATUS["printing"]["job"]) | {
                "id": self.job.job_id,
                "progress": round(progress, 1),
                "time_remaining": int(max(0.0, self.print_seconds - printed)),
                "time_printing": int(printed),
            }
        return web.json_response(body)

    async def _job(self, _: web.Request) -> web.Response:
        job = self.job
        if job is None:
            return web.Response(status=204)
        progress, printed = self._progress(job)
        name = job.path.rsplit("/", 1)[-1]
        body = fixture("job.json")["printing"]
        body.update(
            id=job.job_id,
            state=job.state,
            progress=round(progress, 1),
            time_remaining=int(max(0.0, self.print_seconds - printed)),
            time_printing=int(printed),
        )
        short = name.upper()[:8]  # the short (8.3) name, as on Buddy firmware
        refs = body["file"]["refs"]
        for key, ref in refs.items():
            refs[key] = ref.replace(body["file"]["name"], short)
        body["file"].update(
            name=short,
            display_name=name,
            path=f"/{self.storage}",
            size=job.size,
        )
        return web.json_response(body)

    async def _pause(self, request: web.Request) -> web.Response:
        job = self._current_job(request)
        if isinstance(job, web.Response):
            return job
        if self.printer_state() != "PRINTING":
            return self._error(409, "Conflict", "Not printing")
        job.state, job.paused_at = "PAUSED", time.monotonic()
        return web.Response(status=204)

    async def _resume(self, request: web.Request) -> web.Response:
        job = self._current_job(request)
        if isinstance(job, web.Response):
            return job
        if self.printer_state() != "PAUSED" or job.paused_at is None:
            return self._error(409, "Conflict", "Not paused")
        job.paused_total += time.monotonic() - job.paused_at
        job.state, job.paused_at = "PRINTING", None
        return web.Response(status=204)

    async def _stop(self, request: web.Request) -> web.Response:
        job = self._current_job(request)
        if isinstance(job, web.Response):
            return job
        if self.printer_state() not in ("PRINTING", "PAUSED"):
            return self._error(409, "Conflict", "Nothing to stop")
        job.state, job.ended_at = "STOPPED", job.paused_at or time.monotonic()
        return web.Response(status=204)

    def _file_key(self, request: web.Request) -> str | web.Response:
        if request.match_info["storage"] != self.storage:
            return self._error(404, "Not Found", "No such storage")
        return request.match_info["path"]

    async def _upload(self, request: web.Request) -> web.Response:
        key = self._file_key(request)
        if isinstance(key, web.Response):
            return key
        if request.content_length is None:
            return self._error(411, "Length Required", "Content-Length required")
        overwrite = request.headers.get("Overwrite", "?0") == "?1"
        print_after = request.headers.get("Print-After-Upload", "?0") == "?1"
        if key in self.files and not overwrite:
            return self._error(409, "Conflict", "File already exists")
        if print_after and self.printer_state() in ("PRINTING", "PAUSED", "BUSY"):
            return self._error(409, "Conflict", "Printer is busy")
        data = await request.read()
        if len(data) != request.content_length:
            return self._error(400, "Bad Request", "Incomplete upload")
        self.files[key] = data
        if print_after:
            self._begin(key)
        return web.Response(status=201)

    async def _start(self, request: web.Request) -> web.Response:
        key = self._file_key(request)
        if isinstance(key, web.Response):
            return key
        if key not in self.files:
            return self._error(404, "Not Found", "No such file")
        if self.printer_state() in ("PRINTING", "PAUSED", "BUSY"):
            return self._error(409, "Conflict", "Printer is busy")
        self._begin(key)
        return web.Response(status=204)

    async def _head(self, request: web.Request) -> web.Response:
        key = self._file_key(request)
        if isinstance(key, web.Response):
            return key
        return web.Response(status=200 if key in self.files else 404)

    async def _delete(self, request: web.Request) -> web.Response:
        key = self._file_key(request)
        if isinstance(key, web.Response):
            return key
        if self.files.pop(key, None) is None:
            return self._error(404, "Not Found", "No such file")
        return web.Response(status=204)

    def _begin(self, key: str) -> None:
        self._next_job_id += 1
        self.job = _Job(self._next_job_id, key, len(self.files[key]), time.monotonic())
