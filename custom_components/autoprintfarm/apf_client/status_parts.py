"""Parts of newer responses: the calling key (``/server``), printer messages and trays."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from .parsing import JSONObject, opt_bool, opt_float, opt_int, opt_str, parse_time


def _objects(value: Any) -> list[JSONObject]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """The API key a request was made with: what it may do."""

    id: str | None
    name: str | None
    scopes: frozenset[str]
    expires_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: JSONObject) -> Self:
        scopes = data.get("scopes")
        return cls(
            id=opt_str(data.get("id")),
            name=opt_str(data.get("name")),
            scopes=frozenset(str(s) for s in scopes) if isinstance(scopes, list) else frozenset(),
            expires_at=parse_time(data.get("expires_at")),
        )

    def missing(self, *needed: str) -> list[str]:
        """The needed scopes this key lacks."""
        return [scope for scope in needed if scope not in self.scopes]


@dataclass(frozen=True, slots=True)
class PrinterMessage:
    """A message the printer reports (HMS code, firmware notice...)."""

    text: str
    severity: str = "info"  # info, warning, error, fatal (as the server says)
    code: str | None = None
    url: str | None = None

    @classmethod
    def parse_list(cls, value: Any) -> tuple[Self, ...]:
        messages = []
        for item in _objects(value):
            text = opt_str(item.get("text")) or opt_str(item.get("code"))
            if text is None:
                continue
            severity = opt_str(item.get("severity")) or "info"
            messages.append(
                cls(
                    text=text,
                    severity=severity,
                    code=opt_str(item.get("code")),
                    url=opt_str(item.get("url")),
                )
            )
        return tuple(messages)


@dataclass(frozen=True, slots=True)
class Tray:
    """One filament slot (an AMS/MMU tray, or the external spool)."""

    tray_id: str
    unit: int | None = None
    slot: int | None = None
    filament_type: str | None = None
    color_hex: str | None = None
    remaining_percent: float | None = None
    active: bool | None = None

    @classmethod
    def parse_list(cls, value: Any) -> tuple[Self, ...] | None:
        if not isinstance(value, list):
            return None
        trays = []
        for item in _objects(value):
            tray_id = opt_str(item.get("tray_id"))
            if tray_id is None:
                continue
            trays.append(
                cls(
                    tray_id=tray_id,
                    unit=opt_int(item.get("unit")),
                    slot=opt_int(item.get("slot")),
                    filament_type=opt_str(item.get("filament_type")),
                    color_hex=opt_str(item.get("color_hex")),
                    remaining_percent=opt_float(item.get("remaining_percent")),
                    active=opt_bool(item.get("active")),
                )
            )
        return tuple(trays)
