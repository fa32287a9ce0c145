"""OpenAPI 3.1 generated from the route table and its voluptuous schemas."""

from __future__ import annotations

import re
import types
from collections.abc import Mapping, Sequence
from typing import Any

import voluptuous as vol
import voluptuous_openapi

from .. import __version__
from ..files.metadata import PRINT_FILE_TYPES
from ..services.row_schema import any_json
from .framework import BASE_PATH, Route

_PARAM = re.compile(r"{(\w+)}")
_ENVELOPE_ERROR = {
    "type": "object",
    "required": ["success", "code", "error"],
    "properties": {
        "success": {"const": False},
        "code": {"type": "string"},
        "error": {"type": "string"},
        "message": {"type": "string", "description": "Repeats `error`."},
        "details": {"type": "array", "items": {"type": "object"}},
    },
}
_ANY_JSON = {"type": ["object", "array", "string", "number", "boolean", "null"]}
_STATUS_TEXT = {200: "OK", 201: "Created"}
_BYTES = {"type": "string", "format": "binary"}
_TEXT = {"type": "string"}
#: ``Route.response_kind`` -> the content types (and their schemas) a success answers with
RESPONSE_TYPES: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "binary": (("application/octet-stream", _BYTES),),
    "csv": (("text/csv", _TEXT),),
    "html": (("text/html", _TEXT),),
    "jpeg": (("image/jpeg", _BYTES),),
    #: a slicer's thumbnail
    "thumbnail": (("image/png", _BYTES), ("image/jpeg", _BYTES)),
    #: an uploaded product image (sniffed from its bytes)
    "image": tuple((f"image/{kind}", _BYTES) for kind in ("jpeg", "png", "webp", "gif")),
    #: the OpenAPI document itself (not in the envelope)
    "openapi": (
        (
            "application/json",
            {"type": "object", "required": ["openapi", "info", "paths"]},
        ),
    ),
    #: a print file, typed by its extension
    "print_file": tuple((ctype, _BYTES) for ctype in PRINT_FILE_TYPES),
}
#: the order a reader meets the tags in: the farm's daily work first, the business side
#: next, integrations and the server itself last; a tag not listed follows, by name
TAG_ORDER = (
    "Printers",
    "Jobs",
    "Files",
    "Dispatch",
    "Worklist",
    "Hubs",
    "Events",
    "Products",
    "SKUs",
    "Materials",
    "Colors",
    "Inventory",
    "Orders",
    "Assembly",
    "Analytics",
    "Wiki",
    "Webhooks",
    "Server",
)
_UPLOAD_FORM = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "product_id": {"type": "string", "maxLength": 36},
        "number_of_units": {"type": "integer", "minimum": 1, "maximum": 100000},
    },
}


def _convert(schema: vol.Schema) -> dict[str, Any]:
    def fallback(value: Any) -> Any:
        if value is any_json:
            return _ANY_JSON
        if isinstance(value, vol.Date):
            return {"type": "string", "format": "date"}
        # plain functions (custom checks) cannot be described; everything else can
        if isinstance(value, types.FunctionType):
            return {}
        return voluptuous_openapi.UNSUPPORTED

    try:
        converted: dict[str, Any] = _merge_type_unions(
            _nullable_to_31(voluptuous_openapi.convert(schema, custom_serializer=fallback))
        )
        return converted
    except Exception:  # a validator the converter cannot describe
        return {"type": "object"}


def _nullable_to_31(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` becomes a 3.1 ``type`` list."""
    if isinstance(node, dict):
        node = {k: _nullable_to_31(v) for k, v in node.items()}
        if node.pop("nullable", False):
            kind = node.get("type")
            # a type list would leave null outside the enum; anyOf keeps the enum whole
            # (an SDK generator makes one Enum | None of it)
            if isinstance(kind, str) and "enum" not in node:
                node["type"] = [kind, "null"]
            else:
                node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list | tuple):
        return [_nullable_to_31(v) for v in node]
    return node


def _merge_type_unions(node: Any) -> Any:
    """``anyOf`` of bare types becomes one ``type`` list (``number`` covers ``integer``);
    length limits on arrays become ``minItems``/``maxItems``.

    ``vol.Any(None, int, float)`` converts to nested ``anyOf`` s; as one type list an SDK
    generator makes ``float | None`` of it instead of a union of unions.
    """
    if isinstance(node, list | tuple):
        return [_merge_type_unions(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _merge_type_unions(v) for k, v in node.items()}
    kind = node.get("type")
    if kind == "array" or (isinstance(kind, list) and "array" in kind):
        # vol.Length on a list converts to the string keywords, which arrays ignore
        for text_key, array_key in (("minLength", "minItems"), ("maxLength", "maxItems")):
            if text_key in node:
                node[array_key] = node.pop(text_key)
    options = node.get("anyOf")
    if "type" in node or not isinstance(options, list):
        return node
    if not all(isinstance(o, dict) and set(o) == {"type"} for o in options):
        return node
    kinds: list[str] = []
    for option in options:
        more = option["type"] if isinstance(option["type"], list) else [option["type"]]
        kinds.extend(k for k in more if k not in kinds)
    if "number" in kinds and "integer" in kinds:
        kinds.remove("integer")
    del node["anyOf"]
    node["type"] = kinds[0] if len(kinds) == 1 else kinds
    return node


def ordered_tags(names: set[str], descriptions: Mapping[str, str]) -> list[dict[str, str]]:
    """The top-level ``tags`` list: in :data:`TAG_ORDER`, each with its description."""
    rank = {name: i for i, name in enumerate(TAG_ORDER)}
    ordered = sorted(names, key=lambda name: (rank.get(name, len(rank)), name))
    tags: list[dict[str, str]] = []
    for name in ordered:
        tag = {"name": name}
        if descriptions.get(name):
            tag["description"] = descriptions[name]
        tags.append(tag)
    return tags


def build_spec(
    routes: Sequence[Route], server_url: str = "", tag_descriptions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document; ``tag_descriptions`` come from the route tables."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(BASE_PATH + route.path, {})[route.method.lower()] = _operation(route)
    _check_operation_ids(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "APF API (AutoPrintFarm public API v1 compatible)",
            "version": __version__,
            "description": (
                "Authenticate with `Authorization: Bearer apf_live_<64 hex>`: mint a key with "
                "`apf keys create`, then press **Authorize** on this page to try the calls with "
                "it. Scopes: `read`, `write`, `control`. Every response uses the envelope "
                "`{success, data, meta?}` or `{success: false, code, error}`. Authenticated "
                "responses carry `X-RateLimit-Limit/Remaining/Reset`."
            ),
        },
        "servers": [{"url": server_url or "/"}],
        "tags": ordered_tags({route.tag for route in routes}, tag_descriptions or {}),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API keys are minted with `apf keys create` and shown once.",
                }
            },
            "schemas": {"Error": _ENVELOPE_ERROR},
        },
        "paths": paths,
    }


def _check_operation_ids(paths: Mapping[str, Mapping[str, Any]]) -> None:
    """SDK generators name their functions after operationIds: each must be unique."""
    seen: dict[str, str] = {}
    for path, ops in paths.items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            other = seen.setdefault(op["operationId"], where)
            if other != where:
                raise ValueError(
                    f"operationId {op['operationId']!r} is used by {other} and {where}: "
                    "rename one of the handlers"
                )


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [route.tag],
        "summary": route.summary,
        "operationId": route.handler.__name__,
    }
    desc = route.description
    if route.scope:
        desc = f"Scope: `{route.scope}`. {desc}".strip()
    if route.errors:
        desc += "\n\nError codes: " + ", ".join(f"`{e}`" for e in route.errors)
    op["description"] = desc
    if route.auth:
        op["security"] = [{"bearer": []}]
    params = _parameters(route)
    if params:
        op["parameters"] = params
    body = _request_body(route)
    if body is not None:
        op["requestBody"] = body
    op["responses"] = _responses(route)
    return op


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.path)
    ]
    if route.query is not None:
        converted = _convert(route.query)
        required = set(converted.get("required", []))
        for name, schema in converted.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": schema}
            )
    return params


def _request_body(route: Route) -> dict[str, Any] | None:
    if route.body is not None and route.body_kind in ("json", "json_or_multipart"):
        body: dict[str, Any] = {
            "required": True,
            "content": {"application/json": {"schema": _convert(route.body)}},
        }
        if route.body_kind == "json_or_multipart":
            body["content"]["multipart/form-data"] = {"schema": _UPLOAD_FORM}
        return body
    if route.body_kind == "raw":
        return {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        }
    if route.body_kind == "multipart":
        return {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            }
        }
    return None


def _success_content(route: Route) -> dict[str, Any]:
    # every success carries both keys (framework.ok); a generated SDK then types them as present
    ok_schema: dict[str, Any] = {
        "type": "object",
        "required": ["success", "data"],
        "properties": {
            "success": {"type": "boolean", "const": True},
            "data": _convert(route.response) if route.response is not None else {},
        },
    }
    if route.paginated:
        meta_fields = (
            ("limit", "offset", "count", "total")
            if route.paged_total
            else ("limit", "offset", "count")
        )
        ok_schema["properties"]["meta"] = {
            "type": "object",
            "required": list(meta_fields),
            "properties": {k: {"type": "integer"} for k in meta_fields},
        }
        ok_schema["required"].append("meta")
    kinds = RESPONSE_TYPES.get(route.response_kind)
    if kinds:
        return {ctype: {"schema": schema} for ctype, schema in kinds}
    return {"application/json": {"schema": ok_schema}}


def _responses(route: Route) -> dict[str, Any]:
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {
        str(route.status): {
            "description": _STATUS_TEXT.get(route.status, "OK"),
            "content": _success_content(route),
        }
    }
    if route.websocket:
        responses = {"101": {"description": "Switching protocols to a WebSocket"}}
    # a path parameter is checked too (a NUL character is refused)
    if route.body is not None or route.query is not None or "{" in route.path:
        responses["400"] = {"description": "VALIDATION_ERROR", "content": error_ref}
    if route.auth:
        responses["401"] = {
            "description": "UNAUTHORIZED, TOKEN_INVALID, TOKEN_REVOKED or TOKEN_EXPIRED",
            "content": error_ref,
        }
        responses["403"] = {"description": "INSUFFICIENT_SCOPE", "content": error_ref}
        responses["429"] = {"description": "RATE_LIMITED", "content": error_ref}
    if "{" in route.path:
        responses["404"] = {"description": "Not found", "content": error_ref}
    for status, codes in _codes_by_status(route.errors, route.error_status).items():
        entry = responses.setdefault(status, {"description": "", "content": error_ref})
        known = [c for c in entry["description"].split(", ") if c]
        entry["description"] = ", ".join(dict.fromkeys([*known, *codes]))
    return dict(sorted(responses.items()))


_CONFLICT_CODES = frozenset(
    {
        "INVALID_STATE",
        "PRINTER_PRINTING",
        "JOB_STATE_CHANGED",
        "PART_IN_EXTERNAL_BOM",
        "SKU_IN_USE_BY_ORDER",
        "IMAGE_CAP_REACHED",
        "CONFLICT",
        "HUB_EMBEDDED",
        "PRINTER_ALREADY_REGISTERED",
        "PRINTER_NAME_TAKEN",
        "PRINTER_BUSY",
    }
)


def error_status(code: str) -> str:
    """The HTTP status a documented error code is sent with."""
    if code.endswith("NOT_FOUND") or code in ("NO_THUMBNAIL", "UNKNOWN_INVENTORY_ITEM"):
        return "404"
    if code.startswith("DUPLICATE") or code.endswith("_IN_USE") or code in _CONFLICT_CODES:
        return "409"
    if code.startswith("HUB_"):
        return "503"
    if code in ("PAYLOAD_TOO_LARGE", "FILE_TOO_LARGE"):
        return "413"
    if code.startswith(("UPLOAD_TOKEN", "TOKEN_")):
        return "401"
    return "400"


def _codes_by_status(codes: Sequence[str], exceptions: Mapping[str, int]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for code in codes:
        status = str(exceptions[code]) if code in exceptions else error_status(code)
        grouped.setdefault(status, []).append(code)
    return grouped
