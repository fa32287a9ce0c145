"""What a printer registration must satisfy before it is stored: the connection fields its
protocol needs, in a form the driver can use, and a name no other printer has."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import Conflict, ValidationFailed
from ..net.urls import parse_printer_url
from ..storage.tables.spine import printers

#: connection fields each protocol needs; they are stored but never returned
REQUIRED_CONNECTION = {
    "octoprint": ("url", "api_key"),
    "moonraker": ("url",),
    "bambu": ("host", "serial", "access_code"),
    "prusalink": ("url",),
    "simulated": (),
}


def _invalid(field: str, message: str, protocol: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid body: connection.{field}: {message} (protocol {protocol})",
        field=f"connection.{field}",
    )


def check_connection(protocol: str, connection: dict[str, Any]) -> None:
    """Refuse a connection the protocol's driver could never use (400 ``VALIDATION_ERROR``
    naming the field): a required field missing, a URL without an http(s) scheme or a
    host, a Bambu host that is not a host name or address, a port that is not a number."""
    missing = [f for f in REQUIRED_CONNECTION[protocol] if not connection.get(f)]
    if missing:
        raise ValidationFailed(
            f"Invalid body: connection.{missing[0]}: is required for protocol {protocol}",
            field=f"connection.{missing[0]}",
            extra={
                "details": [{"field": f"connection.{f}", "message": "is required"} for f in missing]
            },
        )
    if "url" in REQUIRED_CONNECTION[protocol] or connection.get("url"):
        _check_address(protocol, "url", lambda: parse_printer_url(protocol, connection["url"]))
    if connection.get("host"):
        if not _valid_port(connection.get("port")):
            raise _invalid("port", "must be an integer between 1 and 65535", protocol)
        _check_address(
            protocol, "host", lambda: parse_printer_url(protocol, host=str(connection["host"]))
        )


def _valid_port(port: Any) -> bool:
    if port is None:
        return True
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        return False
    try:
        return 0 < int(port) < 65536
    except ValueError:
        return False


def _check_address(protocol: str, field: str, parse: Any) -> None:
    try:
        parse()
    except ValueError as err:
        detail = str(err).removeprefix(f"{protocol}: ")
        wanted = "an http(s) URL with a host" if field == "url" else "a host name or IP address"
        raise _invalid(field, f"must be {wanted} ({detail})", protocol) from None


async def check_name_free(
    conn: AsyncConnection, name: str, *, except_id: str | None = None
) -> None:
    """Printer names are unique, compared without case and surrounding spaces
    (409 ``PRINTER_NAME_TAKEN`` naming the printer that has it)."""
    query = select(printers.c.id, printers.c.name).where(
        func.lower(func.trim(printers.c.name)) == name.strip().lower()
    )
    if except_id is not None:
        query = query.where(printers.c.id != except_id)
    taken = (await conn.execute(query.limit(1))).first()
    if taken is not None:
        raise Conflict(
            f"name: a printer named '{taken.name}' already exists (names are unique, "
            "ignoring case)",
            code="PRINTER_NAME_TAKEN",
            field="name",
            extra={"printer_id": taken.id},
        )
