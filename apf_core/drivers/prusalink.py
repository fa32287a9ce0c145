"""PrusaLink v1 driver: HTTP with digest authentication, status by polling.

Connection options:

``url``            base URL, e.g. ``http://mk4.local`` (or ``host`` and ``port``, default 80)
``username``       digest user (default ``maker``, the Buddy firmware user)
``password``       the password shown on the printer
``api_key``        legacy ``X-Api-Key`` instead of digest (used when no password is set)
``storage``        ``usb`` (Buddy firmware, default) or ``local`` (Raspberry Pi PrusaLink)
``poll_interval``  seconds between status polls (default 5)
``timeout``        seconds to wait for an answer (default 10)
``upload_timeout`` seconds to wait for an upload (default 600)
``reconnect_max``  longest pause between reconnect attempts in seconds (default 60)

PrusaLink v1 has no temperature, home, G-code, light or filament endpoints
and reports no layers; those commands raise ``CapabilityNotSupported``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from ..aio import cancel_and_wait
from ..net.session import guarded_session
from .base import (
    AuthenticationFailed,
    Backoff,
    Capability,
    CommandTimeout,
    ConnectionConfig,
    DriverError,
    PrinterDriver,
    PrinterMessage,
    PrinterUnreachable,
    Severity,
    StartOptions,
    Status,
    http_base_url,
)

_AUTH_MESSAGE = "PrusaLink rejected the user name or password"

#: printer.state -> normalised status (printer-protocols.md section 0)
STATE_MAP = {
    "IDLE": Status.IDLE,
    "READY": Status.IDLE,
    "BUSY": Status.IDLE,  # selftest, preheat menu, load/unload: not a print (see _apply)
    "PRINTING": Status.PRINTING,
    "PAUSED": Status.PAUSED,
    "FINISHED": Status.FINISHED,
    "STOPPED": Status.CANCELLED,
    "ERROR": Status.ERROR,
    "ATTENTION": Status.PAUSED,  # runout, crash or power-panic recovery, a question
}
_ATTENTION_TEXT = (
    "the printer waits at its screen (filament runout, crash or power-panic recovery, "
    "or a question); answer it there, then resume or stop"
)
_BUSY_TEXT = "the printer is busy at its screen (selftest, preheat, load/unload)"
_JOB_STATES = (
    Status.PREPARING,
    Status.PRINTING,
    Status.PAUSED,
    Status.FINISHED,
    Status.CANCELLED,
    Status.ERROR,
)

_HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
}


# --- digest authentication (RFC 7616, and RFC 2069 without qop) ---------------------


def parse_challenge(header: str) -> dict[str, str] | None:
    """The parameters of a ``WWW-Authenticate: Digest ...`` header, or None."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    key, value, in_quotes, reading_value = "", "", False, False
    for char in rest + ",":
        if reading_value:
            if char == '"':
                in_quotes = not in_quotes
            elif char == "," and not in_quotes:
                params[key.strip().lower()] = value.strip()
                key, value, reading_value = "", "", False
            else:
                value += char
        elif char == "=":
            reading_value = True
        elif char != ",":
            key += char
    return params if "nonce" in params and "realm" in params else None


class DigestAuth:
    """Builds ``Authorization`` headers from the server's last challenge."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._challenge: dict[str, str] | None = None
        self._count = 0

    @property
    def ready(self) -> bool:
        return self._challenge is not None

    def accept(self, header: str) -> bool:
        """Remember a challenge; False when it is not a usable digest challenge."""
        challenge = parse_challenge(header)
        if challenge is None:
            return False
        algorithm = challenge.get("algorithm", "MD5").upper()
        if algorithm not in _HASHES:
            raise AuthenticationFailed(f"PrusaLink asks for unsupported digest {algorithm}")
        if self._challenge is None or challenge["nonce"] != self._challenge["nonce"]:
            self._count = 0
        self._challenge = challenge
        return True

    def header(self, method: str, uri: str) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        algorithm = challenge.get("algorithm", "MD5").upper()
        digest = _HASHES[algorithm]

        def h(text: str) -> str:
            return str(digest(text.encode()).hexdigest())

        realm, nonce = challenge["realm"], challenge["nonce"]
        ha1 = h(f"{self.username}:{realm}:{self.password}")
        ha2 = h(f"{method}:{uri}")
        parts = [
            f'username="{self.username}"',
            f'realm="{realm}"',
            f'nonce="{nonce}"',
            f'uri="{uri}"',
            f"algorithm={algorithm}",
        ]
        qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
        if "auth" in qops:
            self._count += 1
            nc = f"{self._count:08x}"
            cnonce = secrets.token_hex(8)
            response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            parts += [f'response="{response}"', "qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        elif qops:
            raise AuthenticationFailed("PrusaLink asks for an unsupported digest qop")
        else:
            parts.append(f'response="{h(f"{ha1}:{nonce}:{ha2}")}"')
        if "opaque" in challenge:
            parts.append(f'opaque="{challenge["opaque"]}"')
        return "Digest " + ", ".join(parts)


# --- the driver --------------------------------------------------------------------


class _HttpError(DriverError):
    """PrusaLink answered with a 4xx status other than 401."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PrusaLinkDriver(PrinterDriver):
    protocol = "prusalink"
    capabilities = frozenset({Capability.PAUSE_RESUME})

    def __init__(self, config: ConnectionConfig) -> None:
        super().__init__(config)
        options = config.options
        self.base_url = http_base_url("prusalink", options)
        password = options.get("password")
        self._api_key = None if password else options.get("api_key")
        self._digest = DigestAuth(str(options.get("username", "maker")), str(password or ""))
        self._storage = str(options.get("storage", "usb"))
        self._poll_interval = float(options.get("poll_interval", 5.0))
        self._timeout = float(options.get("timeout", 10.0))
        self._upload_timeout = float(options.get("upload_timeout", 600.0))
        self._reconnect_max = float(options.get("reconnect_max", 60.0))
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._job_id: int | None = None
        self._job_names: dict[int, str | None] = {}
        self._version_ok = False

    # --- lifecycle -------------------------------------------------------------
    async def connect(self) -> None:
        if self._task is not None:
            return
        self._session = guarded_session(cookie_jar=aiohttp.DummyCookieJar())
        try:
            await self._refresh()
        except AuthenticationFailed:
            await self.close()
            raise
        except DriverError as err:
            self._go_offline(str(err))
        self._task = asyncio.create_task(self._run(), name=f"prusalink {self.base_url}")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self._go_offline(None)

    async def _run(self) -> None:
        backoff = Backoff(initial=1.0, maximum=self._reconnect_max)
        while True:
            try:
                await asyncio.sleep(self._poll_interval)
                await self._refresh()
                backoff.reset()
            except DriverError as err:  # unreachable, rejected, timeout, malformed
                self._go_offline(str(err))
                await asyncio.sleep(backoff.next_delay())

    # --- status ------------------------------------------------------------------
    async def _check_version(self) -> None:
        """``/api/v1`` needs PrusaLink API 2 (Buddy 4.7+ / PrusaLink 0.7+)."""
        try:
            version = await self._request("GET", "/api/version")
        except _HttpError as err:
            if err.status != 404:
                raise
            version = None
        api = str(version.get("api") or "") if isinstance(version, dict) else ""
        major = int(api.split(".")[0]) if api[:1].isdigit() else 0
        if major < 2:
            raise PrinterUnreachable(
                f"PrusaLink API {api or 'unknown'} has no /api/v1: update the printer firmware"
            )
        self._version_ok = True

    async def _refresh(self) -> None:
        if not self._version_ok:
            await self._check_version()
        status = await self._request("GET", "/api/v1/status")
        if not isinstance(status, dict) or not isinstance(status.get("printer"), Mapping):
            raise PrinterUnreachable("PrusaLink sent a malformed status")
        job = status.get("job") if isinstance(status.get("job"), Mapping) else None
        job_id = _integer(job.get("id")) if job else None
        self._job_id = job_id
        if job_id is not None and job_id not in self._job_names:
            self._job_names[job_id] = await self._job_name()
            while len(self._job_names) > 16:
                self._job_names.pop(next(iter(self._job_names)))
        self._apply(status["printer"], job)

    async def _job_name(self) -> str | None:
        job = await self._request("GET", "/api/v1/job")
        if not isinstance(job, dict) or not isinstance(job.get("file"), Mapping):
            return None
        file_info = job["file"]
        name = file_info.get("display_name") or file_info.get("name")
        return str(name) if name else None

    def _apply(self, printer: Mapping[str, Any], job: Mapping[str, Any] | None) -> None:
        state_name = str(printer.get("state", "")).upper()
        status = STATE_MAP.get(state_name, Status.ERROR)
        report = printer.get("status_printer")
        report = report if isinstance(report, Mapping) else {}
        error: str | None = None
        message = report.get("message") if report.get("ok") is False else None
        messages: tuple[PrinterMessage, ...] = ()
        if status is Status.ERROR:
            error = str(message or f"printer state {state_name or 'unknown'}")
            messages = (PrinterMessage("PRUSALINK_ERROR", Severity.SERIOUS, error),)
        elif state_name == "ATTENTION":
            text = f"{message}: {_ATTENTION_TEXT}" if message else _ATTENTION_TEXT
            messages = (PrinterMessage("PRUSALINK_ATTENTION", Severity.SERIOUS, text),)
        elif state_name == "BUSY":
            status = Status.PRINTING if job is not None else Status.IDLE
            messages = (PrinterMessage("PRUSALINK_BUSY", Severity.INFO, _BUSY_TEXT),)
        self._back_online()
        changes: dict[str, Any] = {
            "status": status,
            "error": error,
            "messages": messages,
            "offline_reason": None,
            "nozzle_temp": _number(printer.get("temp_nozzle")),
            "nozzle_target": _number(printer.get("target_nozzle")),
            "bed_temp": _number(printer.get("temp_bed")),
            "bed_target": _number(printer.get("target_bed")),
            "progress": None,
            "remaining_time_minutes": None,
            "current_file": None,
        }
        if job is not None and status in _JOB_STATES:
            remaining = _number(job.get("time_remaining"))
            changes["progress"] = _number(job.get("progress"))
            if status is Status.FINISHED:
                changes["progress"], remaining = 100.0, 0.0
            changes["remaining_time_minutes"] = (
                math.ceil(remaining / 60) if remaining is not None else None
            )
            changes["current_file"] = self._job_names.get(self._job_id or -1)
        self._update(**changes)

    # --- job control -------------------------------------------------------------
    async def start_print(
        self, path: Path, filename: str, options: StartOptions | None = None
    ) -> None:
        path = Path(path)
        try:
            size = (await asyncio.to_thread(os.stat, path)).st_size
        except OSError as err:
            raise DriverError(f"cannot read the print file: {err.strerror or err}") from err
        if not self._digest.ready and self._api_key is None:
            await self._refresh()  # fetch a digest challenge before streaming the body
        handles: list[IO[bytes]] = []

        def body() -> IO[bytes]:
            handle = path.open("rb")
            handles.append(handle)
            return handle

        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
            "Print-After-Upload": "?1",
            "Overwrite": "?1",
        }
        target = f"/api/v1/files/{quote(self._storage, safe='')}/{quote(filename, safe='')}"
        try:
            await self._request(
                "PUT", target, body=body, headers=headers, wait_s=self._upload_timeout
            )
        except OSError as err:
            raise DriverError(f"cannot read the print file: {err.strerror or err}") from err
        finally:
            for handle in handles:
                handle.close()
        with contextlib.suppress(DriverError):
            await self._refresh()

    async def pause(self) -> None:
        await self._request("PUT", f"/api/v1/job/{await self._current_job_id()}/pause")
        await self._refresh_quietly()

    async def resume(self) -> None:
        await self._request("PUT", f"/api/v1/job/{await self._current_job_id()}/resume")
        await self._refresh_quietly()

    async def stop(self) -> None:
        await self._request("DELETE", f"/api/v1/job/{await self._current_job_id()}")
        await self._refresh_quietly()

    async def _current_job_id(self) -> int:
        await self._refresh()
        if self._job_id is None:
            raise DriverError("there is no print job on the printer")
        return self._job_id

    async def _refresh_quietly(self) -> None:
        with contextlib.suppress(DriverError):
            await self._refresh()

    # --- HTTP ----------------------------------------------------------------------
    def _auth_headers(
        self, method: str, path: str, headers: Mapping[str, str] | None
    ) -> dict[str, str]:
        """``headers`` plus the API key, or the digest answer once a challenge was accepted."""
        request_headers = dict(headers or {})
        if self._api_key is not None:
            request_headers["X-Api-Key"] = str(self._api_key)
        else:
            authorization = self._digest.header(method, path)
            if authorization is not None:
                request_headers["Authorization"] = authorization
        return request_headers

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Callable[[], Any] | None = None,
        headers: Mapping[str, str] | None = None,
        wait_s: float | None = None,
    ) -> Any:
        """Send one request, answering one digest challenge; returns parsed JSON or None."""
        session = self._session
        if session is None:
            raise PrinterUnreachable("PrusaLink driver is not connected")
        limit = aiohttp.ClientTimeout(total=wait_s or self._timeout)
        url = URL(self.base_url + path, encoded=True)
        for attempt in range(2):
            try:
                async with session.request(
                    method,
                    url,
                    data=body() if body is not None else None,
                    headers=self._auth_headers(method, path, headers),
                    timeout=limit,
                ) as response:
                    payload = await response.read()
                    if response.status == 401:
                        challenge = response.headers.get("WWW-Authenticate", "")
                        if (
                            attempt == 0
                            and self._api_key is None
                            and self._digest.password
                            and self._digest.accept(challenge)
                        ):
                            continue
                        raise AuthenticationFailed(_AUTH_MESSAGE)
                    if response.status >= 500:
                        raise PrinterUnreachable(
                            f"PrusaLink at {self.base_url} is unavailable (HTTP {response.status})"
                        )
                    if response.status >= 400:
                        raise _HttpError(response.status, _error_text(response.status, payload))
                    if not payload:
                        return None
                    try:
                        return json.loads(payload)
                    except ValueError:
                        return None
            except TimeoutError as err:
                raise CommandTimeout(f"PrusaLink did not answer {method} {path} in time") from err
            except aiohttp.ClientError as err:
                raise PrinterUnreachable(
                    f"cannot reach PrusaLink at {self.base_url}: {err}"
                ) from err
        raise AuthenticationFailed(_AUTH_MESSAGE)  # pragma: no cover - the loop always returns


def _error_text(status: int, payload: bytes) -> str:
    message = ""
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        parsed = json.loads(payload)
        if isinstance(parsed, dict):
            message = ": ".join(str(parsed[k]) for k in ("title", "text") if parsed.get(k))
    if not message:
        message = payload.decode("utf-8", errors="replace").strip()[:200]
    return f"PrusaLink refused the command (HTTP {status}): {message or 'no details'}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


DRIVER = PrusaLinkDriver
