"""The hub wire protocol: topics and message bodies (sealed JSON over MQTT).

Every hub has a topic id derived (HKDF) from its token; the token itself never
travels over MQTT and every payload is sealed (:mod:`apf_core.hub.crypto`,
handshake in :mod:`apf_core.hub.channel`)::

    apf/v1/hub/<id>/up/hello        hub -> server  handshake 1 (on every (re)connect)
    apf/v1/hub/<id>/down/welcome    server -> hub  handshake 2
    apf/v1/hub/<id>/up/ready        hub -> server  handshake 3
    apf/v1/hub/<id>/up/heartbeat    hub -> server  every ``heartbeat_seconds``
    apf/v1/hub/<id>/up/state        hub -> server  {"printer_id", "state"}
    apf/v1/hub/<id>/up/ack          hub -> server  {"command_id", "ok", "error"?}
    apf/v1/hub/<id>/up/status       hub -> server  {"online": false} (last will)
    apf/v1/hub/<id>/down/ping       server -> hub  "I (re)started: shake hands again"
    apf/v1/hub/<id>/down/config     server -> hub  {"hub_id", "printers", ...}
    apf/v1/hub/<id>/down/command    server -> hub  {"command_id", "printer_id", "action", ...}
                                    (``snapshot`` and ``power_devices`` are reads: their
                                    ack carries ``jpeg`` (base64) / ``devices``)
    apf/v1/hub/<id>/down/file/<id>  server -> hub  raw bytes of a print file

``<id>`` is not derivable from ``hubs.token_hash`` (different function and salt).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import asdict
from typing import Any
from urllib.parse import unquote, urlparse

from ..drivers.base import PowerDevice, PrinterMessage, PrinterState, Severity, Status, Tray

PREFIX = "apf/v1/hub"
TOKEN_PREFIX = "apfhub_"  # noqa: S105 - a prefix, not a secret
DEFAULT_PORT = 1883
HEARTBEAT_SECONDS = 15.0
#: the server marks a hub offline after this many missed heartbeats
MISSED_HEARTBEATS = 3
#: the largest camera picture a hub relays (base64 in one sealed message)
MAX_SNAPSHOT_BYTES = 2 << 20


class AnswerError(ValueError):
    """A read's answer cannot be relayed or read; ``code`` names why."""

    def __init__(self, message: str, code: str = "HUB_COMMAND_FAILED") -> None:
        super().__init__(message)
        self.code = code


def encode_answer(what: str, value: Any) -> dict[str, Any]:
    """The ack fields of a read (hub side)."""
    if what == "snapshot":
        if len(value) > MAX_SNAPSHOT_BYTES:
            raise AnswerError(
                f"The camera picture has {len(value):,} bytes; a hub relays at most "
                f"{MAX_SNAPSHOT_BYTES:,} (2 MiB)",
                "SNAPSHOT_TOO_LARGE",
            )
        return {"jpeg": base64.b64encode(value).decode()}
    return {"devices": [asdict(device) for device in value]}


def decode_answer(what: str, ack: dict[str, Any]) -> Any:
    """The value of a read from its ack (server side); a malformed one raises AnswerError."""
    try:
        if what == "snapshot":
            text = str(ack["jpeg"])
            if len(text) > (MAX_SNAPSHOT_BYTES + 2) // 3 * 4:
                raise AnswerError("The hub sent a camera picture over the size limit")
            return base64.b64decode(text, validate=True)
        return [
            PowerDevice(
                str(d["name"]),
                d["on"] if d["on"] in (True, False) else None,
                bool(d.get("locked_while_printing")),
            )
            for d in ack["devices"]
        ]
    except (KeyError, TypeError, binascii.Error) as err:
        raise AnswerError(f"The hub sent a malformed answer to '{what}'") from err


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_hex(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def topic(topic_id: str, *parts: str) -> str:
    return "/".join((PREFIX, topic_id, *parts))


def parse_topic(name: str) -> tuple[str, tuple[str, ...]] | None:
    """``apf/v1/hub/<key>/up/state`` -> (key, ("up", "state"))."""
    parts = name.split("/")
    if len(parts) < 5 or "/".join(parts[:3]) != PREFIX:
        return None
    return parts[3], tuple(parts[4:])


def broker_address(url: str) -> tuple[str, int, bool]:
    """``mqtt://host:1883`` / ``mqtts://host:8883`` -> (host, port, tls)."""
    if "://" not in url:
        url = "mqtt://" + url
    parsed = urlparse(url)
    tls = parsed.scheme in ("mqtts", "ssl", "tls")
    port = parsed.port or (8883 if tls else DEFAULT_PORT)
    return parsed.hostname or "127.0.0.1", port, tls


def broker_credentials(url: str) -> tuple[str | None, str | None]:
    """The user-info of ``mqtt://user:password@host``, percent-decoded (None when absent)."""
    parsed = urlparse(url if "://" in url else "mqtt://" + url)
    if parsed.username is None:
        return None, None
    password = parsed.password
    return unquote(parsed.username), None if password is None else unquote(password)


def state_to_dict(state: PrinterState) -> dict[str, Any]:
    data = asdict(state)
    data["status"] = state.status.value
    data["trays"] = [asdict(t) for t in state.trays]
    data["messages"] = [{**asdict(m), "severity": m.severity.value} for m in state.messages]
    return data


def state_from_dict(data: dict[str, Any]) -> PrinterState:
    """Rebuild a state sent by a hub; unknown keys are ignored, bad values rejected."""
    fields = set(PrinterState.__dataclass_fields__)
    values = {k: v for k, v in data.items() if k in fields}
    values["status"] = Status(values.get("status", "offline"))
    values["trays"] = tuple(
        Tray(
            int(t["tray_id"]),
            t.get("filament_type"),
            t.get("color_hex"),
            t.get("remaining_percent"),
            _opt_int(t.get("unit")),
            _opt_int(t.get("slot")),
        )
        for t in values.get("trays") or ()
    )
    values["messages"] = tuple(
        PrinterMessage(
            str(m["code"]),
            Severity(m["severity"]),
            str(m["text"]),
            None if m.get("url") is None else str(m["url"]),
        )
        for m in values.get("messages") or ()
    )
    return PrinterState(**values)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)
