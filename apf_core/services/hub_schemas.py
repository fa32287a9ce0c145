"""Response schemas of the hub routes, generated from the field lists the views use."""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

import voluptuous as vol

from ..discovery.model import Found
from ..storage.tables.spine import hubs, printers
from .hubs import CONNECTION_FIELDS, HUB_FIELDS
from .printers import STATUSES
from .row_schema import nullable, row_schema

_DERIVED = {"printer_count": int, "is_stale": bool}

#: a list item (``GET /hubs``)
HUB = row_schema(hubs, HUB_FIELDS, _DERIVED)
#: ``HubService.get_in``: the hub and whether its heartbeat is older than two minutes
HUB_WITH_STALE = {**HUB, **row_schema(hubs, ("is_stale",), _DERIVED)}
#: ``GET /hubs/{id}``
HUB_DETAIL = {
    **HUB_WITH_STALE,
    vol.Required("printers"): [
        row_schema(printers, ("id", "name", "model", "status"), {"status": vol.In(STATUSES)})
    ],
}
#: create and rotate-token: the only time the token is shown
HUB_WITH_TOKEN = {**HUB_WITH_STALE, vol.Required("token"): str}
HUB_CONNECTION = row_schema(hubs, CONNECTION_FIELDS, _DERIVED)
HUB_DELETED = {vol.Required("id"): str, vol.Required("deleted"): bool}

_TYPES: dict[Any, Any] = {str: str, int: int, str | None: nullable(str), int | None: nullable(int)}
#: ``Found.as_dict()`` (``model_code``: the Bambu code a model name was read from) plus
#: whether a registered printer is that one
DISCOVERED_PRINTER: dict[Any, Any] = {
    vol.Required("id"): str,
    **{
        vol.Required(f.name): _TYPES[get_type_hints(Found)[f.name]]
        for f in dataclasses.fields(Found)
    },
    vol.Required("url"): nullable(str),
    vol.Optional("model_code"): str,
    vol.Required("is_registered"): bool,
    vol.Required("printer_id"): nullable(str),
}
#: ``GET /hubs/{id}/discovered-printers``: ``discovered_at`` in epoch milliseconds
DISCOVERY_LISTING = {
    vol.Required("hub_id"): str,
    vol.Required("discovered_at"): nullable(int),
    vol.Required("printers"): [DISCOVERED_PRINTER],
}
