"""Printer URLs, parsed and rebuilt so nothing in them can steer the requested path.

A printer's ``connection.url`` (or ``host`` + ``port``) becomes scheme, host,
port and an optional path prefix. A query, a fragment, a backslash or control
characters are refused; user-info is lifted out into HTTP Basic credentials and
never appears in the rebuilt URL (which is what logs and errors show).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import aiohttp
from yarl import URL

_FORBIDDEN = re.compile(r"[?#\\\s\x00-\x1f\x7f]")
_HOST = re.compile(r"[A-Za-z0-9._:-]+")


@dataclass(frozen=True, slots=True)
class PrinterURL:
    #: ``scheme://host:port[/prefix]`` without a trailing slash, user-info or query
    base: str
    #: credentials that were written as ``user:password@`` in the URL
    auth: aiohttp.BasicAuth | None = None

    @property
    def ws_base(self) -> str:
        """The same address with ``ws``/``wss``."""
        return "ws" + self.base[4:] if self.base.startswith("http") else self.base

    def join(self, path: str) -> str:
        """``base`` + an absolute driver path (the driver's own constant)."""
        return self.base + (path if path.startswith("/") else "/" + path)


def parse_printer_url(
    protocol: str, url: str | None = None, *, host: str | None = None, port: int | None = None
) -> PrinterURL:
    """Parse and rebuild; raises ``ValueError`` with a message naming the problem."""
    if url:
        return _from_url(protocol, str(url).strip())
    if not host:
        raise ValueError(f"{protocol}: set 'url' or 'host'")
    return _from_url(protocol, f"http://{_bracket(str(host).strip())}:{int(port or 80)}")


def printer_url_from_options(
    protocol: str, options: Mapping[str, Any], default_port: int = 80
) -> PrinterURL:
    return parse_printer_url(
        protocol,
        options.get("url") or None,
        host=options.get("host") or None,
        port=int(options.get("port") or default_port),
    )


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _from_url(protocol: str, text: str) -> PrinterURL:
    if _FORBIDDEN.search(text):
        raise ValueError(
            f"{protocol}: connection url must not contain '?', '#', a backslash or spaces"
        )
    if "://" not in text:
        text = "http://" + text
    try:
        parsed = URL(text)
        port = parsed.port
    except ValueError as err:
        raise ValueError(f"{protocol}: malformed connection url ({err})") from None
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"{protocol}: connection url must start with http:// or https://")
    if not parsed.raw_host:
        raise ValueError(f"{protocol}: connection url has no host")
    auth = None
    if parsed.raw_user is not None:
        auth = aiohttp.BasicAuth(unquote(parsed.raw_user), unquote(parsed.raw_password or ""))
    host = parsed.raw_host
    if not _HOST.fullmatch(host):
        raise ValueError(f"{protocol}: connection url has an invalid host")
    path = "/".join(quote(unquote(seg), safe="") for seg in parsed.raw_path.split("/"))
    netloc = _bracket(host) + (f":{port}" if parsed.explicit_port is not None else "")
    return PrinterURL(base=f"{parsed.scheme}://{netloc}{path}".rstrip("/"), auth=auth)
