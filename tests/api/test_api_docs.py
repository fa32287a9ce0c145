"""The interactive API reference: Swagger UI shipped in the package, no other host."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import aiohttp
import orjson

from apf_core.api.docs_ui import ASSETS, STATIC_DIR, swagger_ui_version
from apf_core.api.openapi import TAG_ORDER

from .conftest import Api

ROOT = Path(__file__).resolve().parents[2]
LOADED = re.compile(r"""<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)\"""")


async def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_docs_page_loads_only_this_servers_assets(api: Api) -> None:
    status, headers, body = await _get(api.server.api + "/docs")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "<script>" not in page and "style=" not in page  # nothing inline for the CSP to block
    loaded = LOADED.findall(page)
    assert any("swagger-ui-bundle.js" in url for url in loaded)
    for url in loaded:
        # no CDN: everything the page loads is a path on this server (or an inline data: icon)
        assert url.startswith("/public/v1/docs/assets/") or url == "data:,", url
    assert not re.search(r"""(?:src|href)="(?:https?:)?//""", page)
    # the no-JS fallback and the table of contents
    noscript = page[page.index("<noscript>") : page.index("</noscript>")]
    assert 'href="/public/v1/openapi.json"' in noscript
    assert '<a href="#/Printers">Printers</a>' in page


async def test_assets_are_served_with_types_and_long_cache(api: Api) -> None:
    _, _, body = await _get(api.server.api + "/docs")
    urls = LOADED.findall(body.decode())
    expected = {name: "text/css" if name.endswith(".css") else "text/javascript" for name in ASSETS}
    served = set()
    for url in urls:
        if url == "data:,":
            continue
        name = url.split("?")[0].rsplit("/", 1)[1]
        status, headers, content = await _get(api.server.url + url)
        assert status == 200, url
        assert headers["Content-Type"].startswith(expected[name]), url
        assert (
            "immutable" in headers["Cache-Control"]
            and "max-age=31536000" in headers["Cache-Control"]
        )
        assert content == (STATIC_DIR / ASSETS[name]).read_bytes()
        served.add(name)
    assert served == set(ASSETS)
    for path in ("/docs/assets/LICENSE", "/docs/assets/..%2fdocs.js", "/docs/assets/missing.js"):
        status, _, _ = await _get(api.server.api + path)
        assert status == 404, path


async def test_openapi_tags_are_ordered_and_described(api: Api) -> None:
    status, _, body = await _get(api.server.api + "/openapi.json")
    assert status == 200
    spec = orjson.loads(body)
    names = [tag["name"] for tag in spec["tags"]]
    assert names[:3] == ["Printers", "Jobs", "Files"] and names[-1] == "Server"
    assert names == [name for name in TAG_ORDER if name in names]  # every tag has its place
    assert all(tag.get("description") for tag in spec["tags"])
    used = {tag for ops in spec["paths"].values() for op in ops.values() for tag in op["tags"]}
    assert used == set(names)
    # "Authorize" in the docs sends the key the way the server reads it
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    server = spec["paths"]["/public/v1/server"]["get"]
    assert server["security"] == [{"bearer": []}]
    # docstrings are dedented, so Markdown does not turn continuation lines into code
    assert all(
        "\n    " not in op["description"] for ops in spec["paths"].values() for op in ops.values()
    )


def test_swagger_ui_is_vendored_with_its_licence_and_shipped_in_the_package() -> None:
    vendored = STATIC_DIR / "swagger-ui"
    assert re.fullmatch(r"\d+\.\d+\.\d+", swagger_ui_version())
    assert f"swagger-ui-dist@{swagger_ui_version()}" in (vendored / "README.md").read_text()
    assert "Apache License" in (vendored / "LICENSE").read_text()
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["apf_core"]
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {(STATIC_DIR / relative) for relative in ASSETS.values()} <= set(files)
    for path in files:  # a wheel without one of them would serve a broken page
        relative = path.relative_to(ROOT / "apf_core").as_posix()
        assert any(
            fnmatch(relative, pattern) and relative.count("/") == pattern.count("/")
            for pattern in patterns
        ), relative
