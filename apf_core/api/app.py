"""Builds the aiohttp application: routes, auth, scopes, rate limits, envelope."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Any

import orjson
import voluptuous as vol
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import DataError

from ..dashboard import install_dashboard
from ..errors import DomainError, Forbidden, ValidationFailed
from ..farm import Farm
from ..services.keys import LEGACY_READ_SCOPES, ApiKey, KeyService
from . import routes as routes_package
from .docs_ui import install_docs_assets
from .errors import ApiError, http_status
from .framework import (
    BASE_PATH,
    Ctx,
    Route,
    RouteTable,
    ValidatedQueries,
    error_body,
    json_response,
)
from .framework import validate as _validate
from .ratelimit import RateDecision, RateLimiter
from .response_check import check as _check_response
from .response_check import checking_enabled

_LOGGER = logging.getLogger(__name__)

FARM: web.AppKey[Farm] = web.AppKey("farm", Farm)
KEYS: web.AppKey[KeyService] = web.AppKey("keys", KeyService)
LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter", RateLimiter)
ROUTES: web.AppKey[list[Route]] = web.AppKey("routes")
_RESOURCES: web.AppKey[list[tuple[str, bool, web.AbstractResource]]] = web.AppKey("resources")


def load_route_tables() -> list[RouteTable]:
    """Every ``routes`` table in :mod:`apf_core.api.routes` (one module per family)."""
    tables: list[RouteTable] = []
    for info in sorted(pkgutil.iter_modules(routes_package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{routes_package.__name__}.{info.name}")
        table = getattr(module, "routes", None)
        if isinstance(table, RouteTable):
            tables.append(table)
    return tables


def all_routes() -> list[Route]:
    found = [route for table in load_route_tables() for route in table.routes]
    # literal paths before templated ones, so /printers/stats wins over /printers/{id}
    return sorted(found, key=lambda r: r.path.count("{"))


def create_app(farm: Farm) -> web.Application:
    app = web.Application(
        client_max_size=farm.settings.max_json_bytes,
        # long search strings and many filters fit; beyond this aiohttp answers 400 itself
        handler_args={"max_field_size": 16384, "max_line_size": 32768},
    )
    app[FARM] = farm
    app[KEYS] = KeyService(farm.db)
    app[LIMITER] = RateLimiter(farm.settings.rate_limit, farm.settings.rate_window_seconds)
    routes = all_routes()
    app[ROUTES] = routes
    app[_SPEC] = {}
    check_responses = checking_enabled()
    for path, methods in _by_path(routes):
        resource = app.router.add_resource(BASE_PATH + path)
        for route in methods:
            handler = _wrap(route, app, check_responses)
            resource.add_route(route.method, handler)
            if route.method == "GET" and not route.websocket:
                resource.add_route("HEAD", handler)
    install_docs_assets(app, enveloped)  # Swagger UI's files for /public/v1/docs (no auth)
    # the web dashboard at / (static files, no auth: it signs in itself)
    install_dashboard(app, enveloped)
    # tried after every other path: what no route takes
    fallback = app.router.add_route("*", "/{path:.*}", _unrouted).resource
    app[_RESOURCES] = _resources(app, fallback)
    app.on_shutdown.append(_run_shutdown_hooks)  # type: ignore[arg-type]
    return app


def _by_path(routes: list[Route]) -> list[tuple[str, list[Route]]]:
    """One resource per path, in the order the router tries them: literal paths first
    (``/printers/stats`` before ``/printers/{id}``), then polled paths, then paths that
    answer reads. aiohttp tries the templated paths under one prefix one by one."""
    paths: dict[str, list[Route]] = {}
    for route in routes:
        paths.setdefault(route.path, []).append(route)
    return sorted(
        paths.items(),
        key=lambda item: (
            item[0].count("{"),
            not any(route.polled for route in item[1]),
            all(route.method != "GET" for route in item[1]),
        ),
    )


async def _run_shutdown_hooks(app: web.Application) -> None:
    """Runtime modules close long-lived connections (WebSockets) here, so shutdown
    does not wait for them: ``farm.http_shutdown_hooks``."""
    for hook in list(app[FARM].http_shutdown_hooks):
        try:
            await hook()
        except Exception:
            _LOGGER.exception("shutdown hook failed")


def _wrap(route: Route, app: web.Application, check_responses: bool = False) -> Handler:
    """The aiohttp handler of ``route``: the caller's key, its rate limit and scope, the
    validated input, the route's handler, and every failure as the error envelope."""
    farm, keys, limiter = app[FARM], app[KEYS], app[LIMITER]
    queries = ValidatedQueries(route.query) if route.query is not None else None

    async def handler(request: web.Request) -> web.StreamResponse:
        rate: RateDecision | None = None
        try:
            key = None
            if route.auth:
                presented = request.headers.get(hdrs.AUTHORIZATION)
                key = keys.verified(presented) or await keys.verify(presented)
                rate = limiter.hit(key.id, key.rate_limit)
                if not rate.allowed or route.scope not in key.scopes:
                    _admit(route, key, rate)
            ctx = _context(request, farm, key, queries)
            if route.body is not None and _json_body(route, request):
                ctx.body = await _read_body(route.body, request)
            response = await route.handler(ctx)
            if check_responses:
                response = _check_response(route, response)
        except Exception as err:
            response = error_response(request, err)
        if rate is not None and not response.prepared:
            rate.add_headers(response.headers)
        return response

    handler.__name__ = route.handler.__name__
    return handler


def _admit(route: Route, key: ApiKey, rate: RateDecision) -> None:
    """429 past the key's rate limit, 403 without the route's scope."""
    if not rate.allowed:
        raise ApiError(
            f"Too many requests. Please try again in {rate.retry_after} seconds",
            code="RATE_LIMITED",
            status=429,
            extra={"retry_after": rate.retry_after},
        )
    if route.scope and not _has_scope(key.scopes, route.scope, route.path):
        raise Forbidden(f"API key missing required scope: {route.scope}", code="INSUFFICIENT_SCOPE")


def _context(
    request: web.Request, farm: Farm, key: ApiKey | None, queries: ValidatedQueries | None
) -> Ctx:
    """The handler's view of the request: path and query checked, the body still unread."""
    params: dict[str, str] = request.match_info
    raw_path = request.raw_path  # as sent: a NUL in a path value arrives as %00
    if "%00" in raw_path or "\x00" in raw_path:
        _refuse_nul("path", dict(params))
    query: dict[str, Any] = {}
    if queries is not None:
        query = queries.get(request.query_string, lambda: _raw_query(request))
    return Ctx(request, farm, key, params, query, None)


def _raw_query(request: web.Request) -> dict[str, str]:
    raw_query = dict(request.query)
    _refuse_nul_text("query", raw_query)
    return raw_query


async def _read_body(schema: vol.Schema, request: web.Request) -> Any:
    """The JSON body, checked by the route's schema."""
    raw_body = await _read_json(request)
    _refuse_nul("body", raw_body)
    return _validate(schema, raw_body, "body")


def _json_body(route: Route, request: web.Request) -> bool:
    """Routes that also take a multipart form leave ``body`` unset for one."""
    if route.body_kind == "json_or_multipart":
        return not request.content_type.startswith("multipart/")
    return route.body_kind == "json"


def _has_scope(scopes: frozenset[str], required: str, path: str) -> bool:
    if required in scopes:
        return True
    if required != "read":
        return False
    legacy = {"printers:read": "/printers", "jobs:read": "/jobs", "inventory:read": "/inventory"}
    return any(
        name in scopes and path.startswith(prefix)
        for name, prefix in legacy.items()
        if name in LEGACY_READ_SCOPES
    )


async def _read_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        where = f"line {err.lineno}, column {err.colno}"
        raise ValidationFailed(
            f"Invalid body: body is not valid JSON (error at {where})",
            extra={"details": [{"field": "body", "message": f"is not valid JSON ({where})"}]},
        ) from None
    if not isinstance(value, dict):
        raise ValidationFailed("Request body must be a JSON object")
    return value


#: JSON nested deeper than this is refused (400) before anything walks it recursively
MAX_JSON_DEPTH = 64


def _refuse_nul_text(where: str, values: dict[str, str]) -> None:
    """Path and query values are flat strings: walk them only when one holds a NUL."""
    if any("\x00" in name or "\x00" in value for name, value in values.items()):
        _refuse_nul(where, values)


def _refuse_nul(where: str, value: Any, path: str = "", depth: int = 0) -> None:
    """NUL characters cannot be stored in PostgreSQL text: refuse them as bad input
    (400) instead of failing in the database (500). Also refuses deep nesting."""
    if depth > MAX_JSON_DEPTH:
        raise ValidationFailed(
            f"Invalid {where}: nested deeper than {MAX_JSON_DEPTH} levels",
            extra={"details": [{"field": path or where, "message": "nested too deeply"}]},
        )
    if isinstance(value, str):
        if "\x00" in value:
            field = path or where
            raise ValidationFailed(
                f"Invalid {where}: {field}: must not contain NUL characters",
                extra={"details": [{"field": field, "message": "must not contain NUL characters"}]},
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(where, str(key), path or where)
            _refuse_nul(where, item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(where, item, f"{path}.{index}" if path else str(index), depth + 1)


def error_response(request: web.Request, err: Exception) -> web.Response:
    """The error envelope for a failure; never a traceback. Redirects are re-raised."""
    if isinstance(err, DomainError):
        status = http_status(err)
        response = json_response(error_body(err.code, err.message, **err.extra), status)
        if status == 429 and "retry_after" in err.extra:
            response.headers[hdrs.RETRY_AFTER] = str(err.extra["retry_after"])
    elif isinstance(err, web.HTTPException):
        if err.status < 400:
            raise err
        response = json_response(error_body(*_http_error(err)), err.status)
        if err.status == 405 and hdrs.ALLOW in err.headers:
            response.headers[hdrs.ALLOW] = err.headers[hdrs.ALLOW]
    elif isinstance(err, DataError):  # e.g. a number out of the column's range on PostgreSQL
        _LOGGER.info("rejected value on %s %s: %s", request.method, request.path, err.orig)
        response = json_response(
            error_body("VALIDATION_ERROR", "A value is out of range for its field"), 400
        )
    else:
        _LOGGER.error("unhandled error on %s %s", request.method, request.path, exc_info=err)
        response = json_response(error_body("INTERNAL_ERROR", "Internal server error"), 500)
    return response


def enveloped(handler: Handler) -> Handler:
    """A handler outside the API (the dashboard's and the docs' files) whose failures are
    the error envelope too, as the API's are."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Exception as err:
            return error_response(request, err)

    guarded.__name__ = handler.__name__
    return guarded


async def _unrouted(request: web.Request) -> web.StreamResponse:
    """Every request no route takes (registered last, for any path and method): a 405
    naming the methods the path does take, or a 404, in the envelope."""
    path = request.rel_url.path_safe
    allowed: set[str] = set()
    for literal, templated, resource in request.app[_RESOURCES]:
        if path.startswith(literal) if templated else path == literal:
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        return error_response(request, web.HTTPMethodNotAllowed(request.method, allowed))
    return error_response(request, web.HTTPNotFound())


def _resources(
    app: web.Application, fallback: web.AbstractResource | None
) -> list[tuple[str, bool, web.AbstractResource]]:
    """Each resource but the fallback with the literal start of its path, so that a 404
    asks only the few resources that can match (not every one, per unknown path)."""
    found = []
    for resource in app.router.resources():
        if resource is not fallback:
            literal, brace, _ = resource.canonical.partition("{")
            found.append((literal, bool(brace), resource))
    return found


def _http_error(err: web.HTTPException) -> tuple[str, str]:
    if err.status == 404:
        return "NOT_FOUND", "Resource not found"
    if err.status == 405:
        return "METHOD_NOT_ALLOWED", "Method not allowed for this resource"
    if err.status == 413:
        return "PAYLOAD_TOO_LARGE", "Request body is too large"
    if err.status == 400:
        return "BAD_REQUEST", err.text or "Bad request"
    return "HTTP_ERROR", err.reason


_SPEC: web.AppKey[dict[str, Any]] = web.AppKey("openapi")


def spec_for(app: web.Application) -> dict[str, Any]:
    """The OpenAPI document of this app's routes (built once, then cached)."""
    from .openapi import build_spec

    cache = app[_SPEC]
    if not cache:
        routes: list[Route] = app[ROUTES]
        descriptions = {t.tag: t.description for t in load_route_tables() if t.description}
        cache.update(build_spec(routes, tag_descriptions=descriptions))
    return cache
