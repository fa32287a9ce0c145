"""Validation failures in plain words: what the field wants, never voluptuous's jargon.

A route's own message (``msg=`` or a custom check's ``vol.Invalid("must be ...")``) is kept.
A voluptuous default ("expected str", "not a valid value", "value must be at most 3", ...) is
replaced by a description of what the field accepts, read from the JSON Schema of the route's
own schema (the same conversion the OpenAPI document uses), so the error and the document agree.
"""

from __future__ import annotations

import re
import types
from typing import Any

import voluptuous as vol
import voluptuous_openapi

NOT_A_FIELD = "is not a field this endpoint accepts"
REQUIRED = "is required"
HEX_PATTERN = "^#[0-9A-Fa-f]{6}$"
HEX_WORDS = "must be a hex colour like #FF8800"

#: voluptuous's default messages (and the same habits copied into custom checks)
_JARGON = re.compile(
    r"^(expected\b|not a valid value|value (must|is|does)\b|length of value|extra keys|"
    r"required key|invalid (literal|value)|no valid value|does not match|contains "
    r"(duplicate|unhashable)|invalid email)|data\[",
    re.IGNORECASE,
)
#: the last resort, for a default message whose field has no description
_FALLBACK = (
    (re.compile(r"^expected (str|a string)$"), "must be text"),
    (re.compile(r"^expected (int|an integer)$"), "must be an integer"),
    (re.compile(r"^expected (float|a number)$"), "must be a number"),
    (re.compile(r"^expected bool$"), "must be true or false"),
    (re.compile(r"^expected (list|a list)$"), "must be a list"),
    (re.compile(r"^expected (dict|a dictionary)$"), "must be an object"),
    (re.compile(r"^value (must be (at (least|most)|higher|lower) .*)$"), r"\1"),
    (re.compile(r"^length of value must be (at (least|most) \d+)$"), r"must have \1 characters"),
)
_BY_ERROR: tuple[tuple[type[vol.Invalid], str], ...] = (
    (vol.UrlInvalid, "must be a URL"),
    (vol.EmailInvalid, "must be an email address"),
)


def message(schema: vol.Schema, error: vol.Invalid) -> str:
    """Words for one failure of ``schema``: what its field wants."""
    text = str(error.msg)
    if text.startswith("extra keys not allowed"):
        return NOT_A_FIELD
    if isinstance(error, vol.RequiredFieldInvalid) or text == "required key not provided":
        return REQUIRED
    if not _JARGON.search(text):
        return text  # the route's own words
    for kind, words in _BY_ERROR:
        if isinstance(error, kind):
            return words
    described = describe(_at(json_schema(schema), error.path))
    if described:
        return described
    for pattern, words in _FALLBACK:
        if pattern.match(text):
            return pattern.sub(words, text)
    return "has a value this field does not accept"


def json_schema(schema: vol.Schema) -> dict[str, Any]:
    def custom(value: Any) -> Any:
        if isinstance(value, types.FunctionType):
            return {}  # a custom check says nothing about the type
        return voluptuous_openapi.UNSUPPORTED

    try:
        converted: dict[str, Any] = voluptuous_openapi.convert(schema, custom_serializer=custom)
    except Exception:  # a validator the converter cannot read: no description
        return {}
    return converted


def _branches(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *node.get("anyOf", ()), *node.get("allOf", ()), *node.get("oneOf", ())]


def _at(node: dict[str, Any] | None, path: list[Any]) -> dict[str, Any] | None:
    """The JSON Schema of the value at ``path`` (dict keys and list indexes)."""
    for step in path:
        if node is None:
            return None
        found = None
        for branch in _branches(node):
            if isinstance(step, int) and isinstance(branch.get("items"), dict):
                found = branch["items"]
            elif isinstance(step, str) and step in branch.get("properties", {}):
                found = branch["properties"][step]
            elif isinstance(step, str) and isinstance(branch.get("additionalProperties"), dict):
                found = branch["additionalProperties"]
            if found is not None:
                break
        node = found
    return node


def _types(node: dict[str, Any]) -> tuple[set[str], bool]:
    """The JSON types ``node`` allows, and whether null is one of them."""
    kinds: set[str] = set()
    nullable = bool(node.get("nullable"))
    for branch in _branches(node):
        kind = branch.get("type")
        for name in kind if isinstance(kind, list) else [kind] if kind else []:
            kinds.add(name)
        nullable = nullable or bool(branch.get("nullable"))
    if "null" in kinds:
        kinds.discard("null")
        nullable = True
    return kinds, nullable


def _bounds(node: dict[str, Any], low: str, high: str) -> tuple[Any, Any]:
    return node.get(low), node.get(high)


def _span(low: Any, high: Any, unit: str = "") -> str:
    if low is not None and high is not None:
        return f" of {low} to {high}{unit}" if unit else f" between {low} and {high}"
    if low is not None:
        return f" of at least {low}{unit}"
    if high is not None:
        return f" of at most {high}{unit}"
    return ""


def describe(node: dict[str, Any] | None) -> str | None:
    """``must be ...`` for a JSON Schema node; None when it says nothing useful."""
    if not node:
        return None
    kinds, nullable = _types(node)
    words = _describe_kinds(node, kinds)
    if words is None:
        return None
    return f"{words}, or null" if nullable else words


def _describe_kinds(node: dict[str, Any], kinds: set[str]) -> str | None:
    if "enum" in node:
        return "must be one of: " + ", ".join(str(v) for v in node["enum"])
    if node.get("pattern") == HEX_PATTERN:
        return HEX_WORDS
    if kinds == {"integer"}:
        low, high = _bounds(node, "minimum", "maximum")
        return "must be an integer" + _span(low, high)
    if kinds and kinds <= {"integer", "number"}:
        low, high = _bounds(node, "minimum", "maximum")
        return "must be a number" + _span(low, high)
    if kinds == {"string"}:
        low, high = _bounds(node, "minLength", "maxLength")
        return "must be text" + _span(low or None, high, " characters")
    if kinds == {"boolean"}:
        return "must be true or false"
    if kinds == {"array"}:
        low, high = _bounds(node, "minItems", "maxItems")
        if low is None and high is None:  # voluptuous_openapi's Length on a list
            low, high = _bounds(node, "minLength", "maxLength")
        return "must be a list" + _span(low or None, high, " items")
    if kinds == {"object"}:
        return "must be an object"
    return None
