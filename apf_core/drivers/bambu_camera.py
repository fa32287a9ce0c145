"""Bambu Lab camera snapshots.

* P1/A1: a JPEG stream on TLS port 6000 (OpenBambuAPI ``video.md``): an 80-byte login
  (0x40, 0x3000, 0, 0, user and access code padded to 32 bytes), then frames of a 16-byte
  little-endian header (payload size, 0, 1, 0) and the JPEG.
* X1/H2/P2S: RTSPS on port 322 (``rtsps://bblp:<code>@host:322/streaming/live/1``), read
  with ffmpeg when it is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import struct
from collections.abc import Mapping
from typing import Any

from .base import Capability, CapabilityNotSupported, DriverError, PrinterUnreachable

JPEG_PORT = 6000
RTSP_PORT = 322
MAX_FRAME_BYTES = 8 << 20
JPEG_MODELS = ("P1P", "P1S", "A1", "A1MINI")


def ffmpeg_path() -> str | None:
    return shutil.which("ffmpeg")


def login_packet(access_code: str) -> bytes:
    user = b"bblp".ljust(32, b"\0")
    code = access_code.encode()[:32].ljust(32, b"\0")
    return struct.pack("<IIII", 0x40, 0x3000, 0, 0) + user + code


async def jpeg_snapshot(
    host: str, access_code: str, context: ssl.SSLContext, timeout: float, port: int = JPEG_PORT
) -> bytes:
    """One frame from the P1/A1 JPEG stream."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
            try:
                writer.write(login_packet(access_code))
                await writer.drain()
                header = await reader.readexactly(16)
                size = struct.unpack("<I", header[:4])[0]
                if not 0 < size <= MAX_FRAME_BYTES:
                    raise DriverError(f"camera sent a frame of {size} bytes")
                frame = await reader.readexactly(size)
            finally:
                writer.close()
                with contextlib.suppress(OSError, ssl.SSLError):
                    await writer.wait_closed()
    except TimeoutError as err:
        raise PrinterUnreachable("the camera sent no picture in time") from err
    except asyncio.IncompleteReadError as err:
        raise PrinterUnreachable(
            "the camera closed the connection (wrong access code, or the stream is off)"
        ) from err
    except (OSError, ssl.SSLError) as err:
        raise PrinterUnreachable(f"cannot reach the camera on port {port}: {err}") from err
    if not frame.startswith(b"\xff\xd8"):
        raise DriverError("the camera sent something that is not a JPEG")
    return frame


async def rtsp_snapshot(url: str, timeout: float) -> bytes:
    """One JPEG from an RTSP(S) stream via ffmpeg; CAPABILITY_NOT_SUPPORTED without it."""
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise CapabilityNotSupported(
            Capability.CAMERA, "the RTSPS camera needs ffmpeg on the server (apt install ffmpeg)"
        )
    process = await asyncio.create_subprocess_exec(
        ffmpeg,
        "-nostdin",
        "-loglevel",
        "error",
        "-rtsp_transport",
        "tcp",
        "-i",
        url,
        "-frames:v",
        "1",
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
        "pipe:1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise PrinterUnreachable("the camera sent no picture in time") from exc
    if process.returncode != 0 or not out.startswith(b"\xff\xd8"):
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no picture"]
        raise PrinterUnreachable(f"camera stream failed: {_hide(detail[0], url)}")
    return out


def _hide(text: str, url: str) -> str:
    """ffmpeg echoes the URL with the access code in it."""
    return text.replace(url, "<camera url>")


def rtsp_url(host: str, access_code: str, ipcam: Mapping[str, Any]) -> str:
    """The LAN liveview URL; refused while liveview is off (``ipcam.rtsp_url`` "disable")."""
    if ipcam.get("rtsp_url") == "disable":
        raise CapabilityNotSupported(
            Capability.CAMERA, "LAN liveview is off: switch it on at the printer's screen"
        )
    return f"rtsps://bblp:{access_code}@{host}:{RTSP_PORT}/streaming/live/1"
