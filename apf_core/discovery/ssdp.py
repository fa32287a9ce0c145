"""Bambu Lab SSDP: printers send ``NOTIFY * HTTP/1.1`` datagrams to UDP port 2021
(broadcast) with ``NT: urn:bambulab-com:device:3dprinter:1``, the serial in ``USN``, the
printer's IP in ``Location`` and ``DevModel.bambu.com`` / ``DevName.bambu.com`` /
``DevVersion.bambu.com``. They do not answer M-SEARCH, so a scan listens."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from typing import Any

from .model import Found, clean_ip

BAMBU_NT = "urn:bambulab-com:device:3dprinter:1"
BAMBU_PORT = 2021
SSDP_GROUP = "239.255.255.250"
MAX_DATAGRAM = 4096
_SERIAL = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
_LOGGER = logging.getLogger(__name__)


def _headers(text: str) -> dict[str, str] | None:
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].strip().upper()
    if not (start.startswith("NOTIFY ") or start.startswith("HTTP/1.1 200")):
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers.setdefault(name.strip().lower(), value.strip())
    return headers


def _field(headers: dict[str, str], name: str, limit: int = 120) -> str | None:
    value = headers.get(name.lower(), "").strip()
    return value[:limit] if value and value.isprintable() else None


def parse_notify(data: bytes, sender: str | None = None) -> Found | None:
    """A Bambu printer from one datagram, or None for anything else or anything malformed.
    ``Location`` is the printer's IP; the sender's address stands in when it is not one."""
    if not data or len(data) > MAX_DATAGRAM:
        return None
    headers = _headers(data.decode("utf-8", errors="replace"))
    if headers is None:
        return None
    if (headers.get("nt") or headers.get("st")) != BAMBU_NT:
        return None
    serial = headers.get("usn", "")
    ip = clean_ip(headers.get("location")) or clean_ip(sender)
    if not _SERIAL.match(serial) or ip is None:
        return None
    name = _field(headers, "DevName.bambu.com") or serial
    return Found(
        protocol="bambu",
        name=name,
        ip=ip,
        port=None,
        source="ssdp",
        model=_field(headers, "DevModel.bambu.com", 40),
        serial=serial,
        firmware_version=_field(headers, "DevVersion.bambu.com", 40),
    )


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.found: list[Found] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        printer = parse_notify(data, addr[0] if addr else None)
        if printer is not None:
            self.found.append(printer)

    def error_received(self, exc: Exception) -> None:  # pragma: no cover - OS-dependent
        _LOGGER.debug("SSDP socket error: %s", exc)


def _socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind(("", port))
        # some setups multicast the NOTIFY instead of broadcasting it; joining may fail
        membership = socket.inet_aton(SSDP_GROUP) + socket.inet_aton("0.0.0.0")  # noqa: S104
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def listen(seconds: float, port: int = BAMBU_PORT) -> list[Found]:
    """Bambu printers heard on ``port`` within ``seconds``. A port that cannot be bound
    (another program holds it without SO_REUSEADDR) is logged and gives no printers."""
    try:
        sock = _socket(port)
    except OSError as err:
        _LOGGER.warning("SSDP discovery cannot listen on UDP %s: %s", port, err)
        return []
    loop = asyncio.get_running_loop()
    transport, collector = await loop.create_datagram_endpoint(_Collector, sock=sock)
    try:
        await asyncio.sleep(seconds)
    finally:
        transport.close()
    return collector.found
