"""The dashboard's files: served at / and /ui/, complete, and shipped in the package."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import aiohttp

from apf_core.dashboard import STATIC_DIR, asset_path

from .conftest import Api

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"""(?:from\s+|import\s*\(\s*)["'](\./[^"']+)["']""")
REFERENCE = re.compile(r"""(?:href|src)="(/ui/[^"]+)\"""")


def _referenced() -> set[str]:
    """Every /ui/ path index.html names, and every module the scripts import."""
    paths = set(REFERENCE.findall((STATIC_DIR / "index.html").read_text()))
    for script in (STATIC_DIR / "js").glob("*.js"):
        paths |= {f"/ui/js/{name[2:]}" for name in IMPORT.findall(script.read_text())}
    return paths


async def test_index_and_every_referenced_asset_are_served(api: Api) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(api.server.url + "/") as resp:
            html = await resp.text()
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/html")
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "connect-src 'self'" in csp
            assert "X-Frame-Options" not in resp.headers  # Home Assistant embeds it in an iframe
        assert '<script type="module" src="/ui/js/main.js">' in html
        referenced = _referenced()
        assert {
            "/ui/app.css",
            "/ui/js/main.js",
            "/ui/js/queue.js",
            "/ui/js/events.js",
        } <= referenced
        for path in sorted(referenced):
            async with session.get(api.server.url + path) as resp:
                assert resp.status == 200, path
                expected = "text/css" if path.endswith(".css") else "text/javascript"
                assert resp.headers["Content-Type"].startswith(expected), path
                assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_unknown_or_escaping_paths_get_the_json_404(api: Api) -> None:
    async with aiohttp.ClientSession() as session:
        for path in (
            "/ui/js/missing.js",
            "/ui/%2e%2e/__init__.py",
            "/ui/..%2f__init__.py",
            "/ui/js/",
        ):
            async with session.get(api.server.url + path) as resp:
                assert resp.status == 404, path
                body = await resp.json()
                assert body["success"] is False and body["code"] == "NOT_FOUND"
    assert asset_path("../__init__.py") is None
    assert asset_path("js/../../__init__.py") is None
    assert asset_path("js/main.js") == (STATIC_DIR / "js" / "main.js").resolve()


async def test_the_dashboard_links_the_api_docs_openapi_and_health(api: Api) -> None:
    """``/`` is the dashboard; its footer is the landing page's links, signed in or not."""
    html = (STATIC_DIR / "index.html").read_text()
    footer = html[html.index("<footer") : html.index("</footer>")]
    links = re.findall(r'href="([^"]+)"', footer)
    assert links == ["/public/v1/docs", "/public/v1/openapi.json", "/public/v1/health"]
    async with aiohttp.ClientSession() as session:
        for link in links:
            async with session.get(api.server.url + link) as resp:
                assert resp.status == 200, link


async def test_the_api_still_answers_beside_the_dashboard(api: Api) -> None:
    reply = await api.get("/server", key="read")
    assert reply.status == 200 and reply.data["key"]["scopes"] == ["read"]
    assert (await api.get("/printers", key=None)).code == "UNAUTHORIZED"


def test_every_dashboard_file_is_package_data() -> None:
    """A wheel without a file would serve a broken page: the globs must cover every file."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["apf_core"]
    package = ROOT / "apf_core"
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert len(files) >= 9
    for path in files:
        relative = path.relative_to(package).as_posix()
        assert any(
            fnmatch.fnmatch(relative, pattern) and relative.count("/") == pattern.count("/")
            for pattern in patterns
        ), relative
