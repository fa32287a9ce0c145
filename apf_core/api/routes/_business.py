"""Schema pieces shared by the business routes (catalogue, inventory, orders, assembly)."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from ...timeutil import parse_iso

ID = vol.All(str, vol.Length(min=1, max=64))
#: what a DELETE of one business resource answers
DELETED = {vol.Required("id"): str, vol.Required("deleted"): bool}
HEX = vol.All(str, vol.Match(r"^#[0-9A-Fa-f]{6}$", msg="must be a hex colour like #FF8800"))


def integer(min_value: int | None = None, max_value: int | None = None) -> vol.All:
    """A JSON integer (booleans and floats are refused)."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise vol.Invalid("expected an integer")
        return value

    return vol.All(int, check, vol.Range(min=min_value, max=max_value))


#: money columns are 32-bit INTEGER cents: at most 21,474,836.47 in the currency
MAX_CENTS = 2**31 - 1
CENTS = integer(0, MAX_CENTS)
#: a SKU's selling price (its finished good's ``unit_price``); null clears it
PRICE = vol.Any(
    None,
    CENTS,
    msg=f"must be a price in whole cents: an integer from 0 to {MAX_CENTS}, or null",
)


def iso_datetime(value: Any) -> Any:
    try:
        return parse_iso(str(value))
    except ValueError:
        raise vol.Invalid("must be an ISO-8601 date or date-time") from None


def url(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value.startswith(("http://", "https://", "/"))
        or len(value) > 1000
    ):
        raise vol.Invalid("must be an http(s) URL")
    return value


def email(value: Any) -> str:
    if (
        not isinstance(value, str)
        or len(value) > 320
        or "@" not in value.strip("@")
        or " " in value
    ):
        raise vol.Invalid("must be an email address")
    return value
