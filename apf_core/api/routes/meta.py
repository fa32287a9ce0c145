"""Server identity, health, the OpenAPI document and its human-readable page."""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from ... import __version__
from ...services.keys import SCOPES, ApiKey
from ...services.row_schema import TIMESTAMP, nullable
from ...timeutil import iso
from ..framework import BASE_PATH, Ctx, RouteTable, json_response, ok

routes = RouteTable("Server", "Identity, health and API documentation.")

_API = vol.In(("autoprintfarm-public-v1",))
SERVER = {
    vol.Required("server_id"): str,
    vol.Required("name"): str,
    vol.Required("version"): str,
    vol.Required("api"): _API,
    vol.Required("database"): str,
    vol.Required("embedded_hub_id"): nullable(str),
    #: :func:`_key_view`
    vol.Required("key"): nullable(
        {
            vol.Required("id"): str,
            vol.Required("name"): str,
            vol.Required("scopes"): [vol.In(SCOPES)],
            vol.Required("expires_at"): nullable(TIMESTAMP),
        }
    ),
}
ROOT = {
    vol.Required("name"): str,
    vol.Required("version"): str,
    vol.Required("api"): _API,
    vol.Required("links"): {vol.Required(name): str for name in ("docs", "openapi", "health")},
}
HEALTH = {
    vol.Required("status"): vol.In(("ok",)),
    vol.Required("version"): str,
    vol.Required("role"): vol.In(("leader", "follower")),
}


@routes.get("/server", scope="read", summary="Server identity", response=SERVER)
async def server_info(ctx: Ctx) -> web.StreamResponse:
    """A stable `server_id` (used by Home Assistant as the unique id), name and version, and
    `key`: the calling key (id, name, scopes, expires_at), so a client can tell what it may do."""
    farm = ctx.farm
    return ok(
        {
            "server_id": farm.server_id,
            "name": farm.settings.server_name,
            "version": __version__,
            "api": "autoprintfarm-public-v1",
            "database": farm.db.dialect,
            "embedded_hub_id": farm.embedded_hub_id,
            "key": _key_view(ctx.key),
        }
    )


def _key_view(key: ApiKey | None) -> dict[str, object] | None:
    """The calling key, never its secret or hash."""
    if key is None:
        return None
    return {
        "id": key.id,
        "name": key.name,
        "scopes": [scope for scope in SCOPES if scope in key.scopes],
        "expires_at": iso(key.expires_at),
    }


@routes.get("", scope=None, auth=False, summary="API root: links to the docs", response=ROOT)
async def api_root(ctx: Ctx) -> web.StreamResponse:
    """Where to go next: the interactive docs, the OpenAPI document and the health check."""
    base = f"{ctx.request.url.origin()}{BASE_PATH}"
    return ok(
        {
            "name": ctx.farm.settings.server_name,
            "version": __version__,
            "api": "autoprintfarm-public-v1",
            "links": {
                "docs": f"{base}/docs",
                "openapi": f"{base}/openapi.json",
                "health": f"{base}/health",
            },
        }
    )


@routes.get("/health", scope=None, auth=False, summary="Liveness check", response=HEALTH)
async def health(ctx: Ctx) -> web.StreamResponse:
    leadership = ctx.farm.leadership
    role = leadership.role if leadership is not None else "follower"
    return ok({"status": "ok", "version": __version__, "role": role})


@routes.get(
    "/openapi.json",
    scope=None,
    auth=False,
    summary="OpenAPI 3.1 document",
    response_kind="openapi",
)
async def openapi_json(ctx: Ctx) -> web.StreamResponse:
    from ..app import spec_for

    return json_response(spec_for(ctx.request.app))


@routes.get(
    "/docs",
    scope=None,
    auth=False,
    summary="Interactive API reference (HTML)",
    response_kind="html",
)
async def docs(ctx: Ctx) -> web.StreamResponse:
    """This page: every operation by tag, with **Authorize** to try the calls with your key."""
    from ..app import spec_for
    from ..docs_ui import page_response

    return page_response(spec_for(ctx.request.app))
