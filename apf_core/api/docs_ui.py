"""The interactive API reference at ``/public/v1/docs``: Swagger UI, shipped in the package.

Swagger UI comes from the npm package ``swagger-ui-dist`` (``static/swagger-ui/``, see its
README and ``scripts/update_swagger_ui.sh``); ``static/docs.js`` starts it on the served
OpenAPI document. Nothing is loaded from another host. The assets are served under
``/public/v1/docs/assets/`` without auth; their URLs carry a content hash, so they are
cached for a year and a new release is fetched at once.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .framework import BASE_PATH

STATIC_DIR = Path(__file__).parent / "static"
ASSET_PREFIX = f"{BASE_PATH}/docs/assets/"

#: name under ASSET_PREFIX -> file under STATIC_DIR (only these are served)
ASSETS = {
    "swagger-ui.css": "swagger-ui/swagger-ui.css",
    "swagger-ui-bundle.js": "swagger-ui/swagger-ui-bundle.js",
    "docs.css": "docs.css",
    "docs.js": "docs.js",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

#: Swagger UI sets inline styles only through the DOM (allowed under style-src 'self');
#: its icons are data: SVGs; "Try it out" calls this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def asset_url(name: str) -> str:
    """The URL of an asset, with a hash of its content (cache busting)."""
    digest = hashlib.sha256((STATIC_DIR / ASSETS[name]).read_bytes()).hexdigest()[:12]
    return f"{ASSET_PREFIX}{name}?h={digest}"


def swagger_ui_version() -> str:
    return (STATIC_DIR / "swagger-ui" / "VERSION").read_text().strip()


def render_docs(spec: dict[str, Any]) -> str:
    """The docs page: Swagger UI on ``openapi.json``, a table of contents, a no-JS fallback."""
    esc = html.escape
    info = spec["info"]
    toc = "".join(
        f'<li><a href="#/{esc(tag["name"])}">{esc(tag["name"])}</a></li>' for tag in spec["tags"]
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(info["title"])}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{asset_url("swagger-ui.css")}">
<link rel="stylesheet" href="{asset_url("docs.css")}">
<script src="{asset_url("swagger-ui-bundle.js")}" defer></script>
<script src="{asset_url("docs.js")}" defer></script>
</head>
<body>
<header class="apf-docs-top">
  <strong>{esc(info["title"])}</strong> <span>v{esc(info["version"])}</span>
  <nav aria-label="Links"><a href="/">Dashboard</a>
  <a href="{BASE_PATH}/openapi.json">OpenAPI document</a>
  <a href="{BASE_PATH}/health">Health</a></nav>
</header>
<div class="apf-docs">
<nav class="apf-toc" aria-label="Contents"><h2>Contents</h2><ol>{toc}</ol></nav>
<main id="swagger-ui" data-spec="{BASE_PATH}/openapi.json">
<noscript><p>This interactive reference needs JavaScript. The API is described by the
OpenAPI 3.1 document <a href="{BASE_PATH}/openapi.json">{BASE_PATH}/openapi.json</a>;
the server's health is at <a href="{BASE_PATH}/health">{BASE_PATH}/health</a>.</p></noscript>
</main>
</div>
</body>
</html>
"""


def page_response(spec: dict[str, Any]) -> web.Response:
    return web.Response(
        text=render_docs(spec), content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
    )


async def _asset(request: web.Request) -> web.StreamResponse:
    relative = ASSETS.get(request.match_info["name"])
    if relative is None:
        raise web.HTTPNotFound()
    path = STATIC_DIR / relative
    # the page names each asset with a hash of its content: a changed file gets a new URL
    headers = {
        "Content-Type": _TYPES[path.suffix],
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
    }
    return web.FileResponse(path, headers=headers)


def install_docs_assets(app: web.Application, guard: Callable[[Handler], Handler]) -> None:
    """Serve Swagger UI's files and the page's own script and styles (no auth); ``guard``
    turns a handler's failures into the API's error envelope."""
    app.router.add_get(ASSET_PREFIX + "{name}", guard(_asset))
