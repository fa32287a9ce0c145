"""The web dashboard: static files shipped in the package, served at ``/``.

Everything the browser loads comes from ``static/`` (no CDN, no build step). The
page talks to the public API under ``/public/v1`` with the API key the user signs in
with (kept in the tab's session storage) and follows the WebSocket event stream.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

STATIC_DIR = Path(__file__).parent / "static"
INDEX = "index.html"
ASSET_PREFIX = "/ui/"

#: scripts, styles and connections only from this origin; images also from blob: URLs
#: (camera snapshots and thumbnails are fetched with the key, then shown as blobs).
#: No frame-ancestors limit: Home Assistant embeds the page in an iframe.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def _headers(path: Path) -> dict[str, str]:
    return {
        "Content-Type": _TYPES[path.suffix],
        # revalidate every load (ETag/Last-Modified make that a 304): an upgrade of the
        # package is seen at once
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    }


def asset_path(name: str) -> Path | None:
    """The file under ``static/`` for a request path, or None (unknown or outside it)."""
    if not name or "\\" in name or "\x00" in name:
        return None
    root = STATIC_DIR.resolve()
    candidate = (root / name).resolve()
    if root not in candidate.parents or not candidate.is_file():
        return None
    if candidate.suffix not in _TYPES:
        return None
    return candidate


async def _index(request: web.Request) -> web.StreamResponse:
    path = STATIC_DIR / INDEX
    return web.FileResponse(path, headers=_headers(path))


async def _asset(request: web.Request) -> web.StreamResponse:
    path = asset_path(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers=_headers(path))


def install_dashboard(app: web.Application, guard: Callable[[Handler], Handler]) -> None:
    """Serve the dashboard at ``/`` and its files under ``/ui/``; ``guard`` turns a
    handler's failures into the API's error envelope."""
    app.router.add_get("/", guard(_index))
    app.router.add_get(ASSET_PREFIX + "{name:.+}", guard(_asset))
