"""A printer found on the LAN, normalised to the discovered-printer shape of the API."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import asdict, dataclass
from typing import Any

#: protocols whose connection is an HTTP base URL
HTTP_PROTOCOLS = ("octoprint", "moonraker", "prusalink")


@dataclass(frozen=True, slots=True)
class Found:
    """One announcement. ``ip`` is the address to connect to; ``source`` is mdns or ssdp."""

    protocol: str
    name: str
    ip: str
    port: int | None
    source: str
    hostname: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware_version: str | None = None
    service_type: str | None = None

    @property
    def id(self) -> str:
        """Stable across scans: Bambu by serial, the others by protocol and address."""
        identity = (
            f"bambu|{self.serial}"
            if self.protocol == "bambu" and self.serial
            else f"{self.protocol}|{self.ip}|{self.port}"
        )
        return hashlib.sha256(identity.encode()).hexdigest()[:16]

    @property
    def url(self) -> str | None:
        if self.protocol not in HTTP_PROTOCOLS:
            return None
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}" if self.port in (None, 80) else f"http://{host}:{self.port}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, **asdict(self), "url": self.url}


def clean_ip(text: str | None) -> str | None:
    """``text`` as a normalised IP address, or None if it is not one."""
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def merge(found: list[Found]) -> list[Found]:
    """One entry per printer: the first announcement of an id wins, and a PrusaLink seen
    also as ``_octoprint._tcp`` (its legacy announcement for slicers) stays PrusaLink."""
    prusa = {(f.ip, f.port) for f in found if f.protocol == "prusalink"}
    seen: dict[str, Found] = {}
    for item in found:
        if item.protocol == "octoprint" and (item.ip, item.port) in prusa:
            continue
        seen.setdefault(item.id, item)
    return sorted(seen.values(), key=lambda f: (f.protocol, f.name.lower(), f.ip))


def _short(value: Any, limit: int) -> str | None:
    text = str(value).strip()[:limit] if isinstance(value, (str, int)) and value != "" else ""
    return text if text and text.isprintable() else None


def found_from_dict(data: Any) -> Found | None:
    """A :class:`Found` rebuilt from an entry another process sent (a remote hub's scan),
    checked field by field; None when it is not a usable printer."""
    if not isinstance(data, dict) or data.get("protocol") not in (*HTTP_PROTOCOLS, "bambu"):
        return None
    ip = clean_ip(data.get("ip"))
    port = data.get("port")
    if ip is None or data.get("source") not in ("mdns", "ssdp"):
        return None
    if not (port is None or (isinstance(port, int) and 0 < port < 65536)):
        return None
    if data["protocol"] in HTTP_PROTOCOLS and port is None:
        return None
    serial = _short(data.get("serial"), 64)
    if data["protocol"] == "bambu" and not serial:
        return None
    return Found(
        protocol=str(data["protocol"]),
        name=_short(data.get("name"), 120) or ip,
        ip=ip,
        port=port,
        source=str(data["source"]),
        hostname=_short(data.get("hostname"), 255),
        model=_short(data.get("model"), 80),
        serial=serial,
        firmware_version=_short(data.get("firmware_version"), 40),
        service_type=_short(data.get("service_type"), 60),
    )
