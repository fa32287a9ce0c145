"""Declarative routes: one definition drives routing, auth, validation and OpenAPI.

A route module builds a :class:`RouteTable` and decorates handlers::

    routes = RouteTable("Printers")

    @routes.get("/printers/{id}", scope="read", summary="Get a printer")
    async def get_printer(ctx: Ctx) -> web.StreamResponse:
        return ok(await PrinterService(ctx.farm).get(ctx.params["id"]))

Handlers receive a :class:`Ctx` whose ``body`` and ``query`` are already
validated by the route's voluptuous schemas.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import orjson
import voluptuous as vol
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..errors import ValidationFailed
from . import validation_words

if TYPE_CHECKING:
    from ..farm import Farm
    from ..services.keys import ApiKey

BASE_PATH = "/public/v1"

#: what aiohttp's multipart reader raises on a malformed body (a bad boundary, a part header
#: that is not a header): a handler reading a form answers these with a 400, never a 500
MULTIPART_ERRORS = (ValueError, AssertionError, HttpProcessingError)

Handler = Callable[["Ctx"], Awaitable[web.StreamResponse]]


@dataclass(slots=True)
class Ctx:
    """Everything a handler needs: the farm, the caller's key and validated input."""

    request: web.Request
    farm: Farm
    key: ApiKey | None
    params: dict[str, str]
    query: dict[str, Any]
    body: Any


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    scope: str | None
    summary: str
    tag: str
    body: vol.Schema | None = None
    query: vol.Schema | None = None
    status: int = 200
    auth: bool = True
    #: "json" (parsed + validated), "raw" (handler streams request.content),
    #: "multipart" (handler reads request.multipart()), "json_or_multipart" (``body`` is
    #: None when the request is a multipart form: the handler reads it)
    body_kind: str = "json"
    errors: tuple[str, ...] = ()
    #: a documented code whose status differs from the usual one for it (``openapi.error_status``)
    error_status: dict[str, int] = field(default_factory=dict)
    description: str = ""
    response: vol.Schema | None = None
    #: "json" (the envelope), or a key of ``openapi.RESPONSE_TYPES`` ("binary", "csv", "html",
    #: "jpeg", "thumbnail", "image", "print_file")
    response_kind: str = "json"
    paginated: bool = False
    #: paginated lists whose meta also carries ``total`` (orders)
    paged_total: bool = False
    websocket: bool = False
    #: read many times a second (Home Assistant and dashboards poll it): the router tries
    #: its path before the other templated paths under the same prefix
    polled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class RouteTable:
    """The routes of one resource family (one OpenAPI tag)."""

    def __init__(self, tag: str, description: str = "") -> None:
        self.tag = tag
        self.description = description
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        scope: str | None,
        summary: str,
        body: dict[Any, Any] | vol.Schema | None = None,
        query: dict[Any, Any] | vol.Schema | None = None,
        response: dict[Any, Any] | list[Any] | vol.Schema | None = None,
        **options: Any,
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method=method,
                    path=path,
                    handler=handler,
                    scope=scope,
                    summary=summary,
                    tag=self.tag,
                    body=_schema(body),
                    query=_schema(query, extra=vol.REMOVE_EXTRA),
                    # strict: a field the server sends must be documented
                    response=_schema(response),
                    description=options.pop("description", None)
                    or inspect.cleandoc(handler.__doc__ or ""),
                    **options,
                )
            )
            return handler

        return decorate

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)


def _schema(
    value: dict[Any, Any] | list[Any] | vol.Schema | None, extra: int = vol.PREVENT_EXTRA
) -> vol.Schema | None:
    if value is None or isinstance(value, vol.Schema):
        return value
    return vol.Schema(value, extra=extra)


# --- responses ---------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=_dumps(payload), status=status, content_type="application/json", headers=headers
    )


def ok(data: Any, *, meta: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    """The success envelope: ``{"success": true, "data": ..., "meta"?: ...}``."""
    payload: dict[str, Any] = {"success": True, "data": data}
    if meta is not None:
        payload["meta"] = meta
    return json_response(payload, status)


def created(data: Any) -> web.Response:
    return ok(data, status=201)


def _page(rows: Sequence[Any], limit: int, offset: int, total: int | None) -> dict[str, Any]:
    """The page envelope, with ``meta{limit, offset, count}`` (count = rows in this page)."""
    meta: dict[str, Any] = {"limit": limit, "offset": offset, "count": len(rows)}
    if total is not None:
        meta["total"] = total
    return {"success": True, "data": list(rows), "meta": meta}


def paged(
    rows: Sequence[Any], limit: int, offset: int, *, total: int | None = None
) -> web.Response:
    """A page of rows in the success envelope."""
    return json_response(_page(rows, limit, offset, total))


class RenderedBodies:
    """JSON bodies of cached reads, rendered once per change.

    A cached read returns the very same object until its data changes (``Database.cached``
    rows, a printer's ``StatusViews`` entry), so a response whose data is the object
    rendered last time under the same key reuses that body. The reference kept makes
    ``is`` exact. Past ``size`` keys the store starts again empty (a poll re-renders once).
    """

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._bodies: dict[Hashable, tuple[object, bytes]] = {}

    def ok(self, key: Hashable, data: Any) -> web.Response:
        """``data`` in the success envelope."""
        hit = self._bodies.get(key)
        if hit is None or hit[0] is not data:
            hit = self._keep(key, data, {"success": True, "data": data})
        return web.Response(body=hit[1], content_type="application/json")

    def paged(self, key: Hashable, rows: Sequence[Any], limit: int, offset: int) -> web.Response:
        """A page of ``rows``, as :func:`paged`."""
        hit = self._bodies.get(key)
        if hit is None or hit[0] is not rows:
            hit = self._keep(key, rows, _page(rows, limit, offset, None))
        return web.Response(body=hit[1], content_type="application/json")

    def _keep(self, key: Hashable, data: object, envelope: dict[str, Any]) -> tuple[object, bytes]:
        if len(self._bodies) >= self._size:
            self._bodies.clear()
        kept = self._bodies[key] = (data, _dumps(envelope))
        return kept


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The failure envelope. ``message`` repeats ``error`` for nested-shape clients."""
    return {"success": False, "code": code, "error": message, "message": message, **extra}


# --- validation ------------------------------------------------------------------


def validate(schema: vol.Schema, data: Any, where: str) -> Any:
    """``data`` checked by ``schema``; a 400 ``VALIDATION_ERROR`` naming each field and saying
    in words what it wants otherwise."""
    try:
        return schema(data)
    except vol.MultipleInvalid as err:
        details = [
            {
                "field": ".".join(str(p) for p in e.path) or where,
                "message": validation_words.message(schema, e),
            }
            for e in err.errors
        ]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        raise ValidationFailed(f"Invalid {where}: {summary}", extra={"details": details}) from None


#: values a validated query may hold and still be shared between requests
_SHAREABLE = (str, int, float, bool, type(None), datetime, date)


class ValidatedQueries:
    """One route's validated query per raw query string. Validation (voluptuous) costs
    more than the rest of a cached read, and pollers send the same query every time.
    Only queries whose values are all immutable are kept; callers get a copy."""

    def __init__(self, schema: vol.Schema, size: int = 256) -> None:
        self._schema = schema
        self._size = size
        self._seen: dict[str, dict[str, Any]] = {}

    def get(self, query_string: str, raw: Callable[[], dict[str, str]]) -> dict[str, Any]:
        """The validated query of ``query_string``; ``raw()`` gives its values (and raises
        for one that cannot be taken) when it has not been seen."""
        hit = self._seen.get(query_string)
        if hit is not None:
            return dict(hit)
        query: dict[str, Any] = validate(self._schema, raw(), "query")
        if all(isinstance(value, _SHAREABLE) for value in query.values()):
            if len(self._seen) >= self._size:
                self._seen.clear()
            self._seen[query_string] = dict(query)
        return query


# --- reusable schema pieces -----------------------------------------------------


#: the largest value an INTEGER column holds on every backend
MAX_INT = 2**31 - 1


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise vol.Invalid("must be an integer, not true or false")
    return value


def integer(minimum: int = -MAX_INT, maximum: int = MAX_INT) -> vol.All:
    """A JSON integer (not a boolean) within ``minimum..maximum``; any failure reads
    "must be an integer between <minimum> and <maximum>"."""
    message = f"must be an integer between {minimum} and {maximum}"
    return vol.All(int, _not_bool, vol.Range(min=minimum, max=maximum), msg=message)


def page_query(max_limit: int = 100) -> dict[Any, Any]:
    return {
        vol.Optional("limit", default=50): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=max_limit)
        ),
        vol.Optional("offset", default=0): vol.All(vol.Coerce(int), vol.Range(min=0, max=MAX_INT)),
    }


BOOL_STRING = vol.All(vol.Lower, vol.In(["true", "false"]), lambda v: v == "true")
"""Boolean query filters are the strings "true"/"false" (reference 2.1)."""


def text(max_len: int, min_len: int = 0) -> vol.All:
    return vol.All(str, vol.Length(min=min_len, max=max_len))


def nullable(validator: Any) -> vol.Any:
    return vol.Any(None, validator)
