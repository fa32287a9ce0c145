"""Paging rules shared by the paginated lists of these sections (files, wiki, worklist)."""

from __future__ import annotations

import pytest

from .conftest import Api, assert_error, assert_validation

PAGED = ("/files", "/wiki", "/worklist")
UNPAGED = ("/materials/filament", "/materials/components", "/materials/packaging",
           "/materials/parts", "/wiki/categories", "/worklist/stats")


@pytest.mark.parametrize("path", PAGED)
async def test_defaults_and_meta(api: Api, path: str) -> None:
    reply = await api.get(path)
    assert reply.status == 200
    assert reply.body["meta"] == {"limit": 50, "offset": 0, "count": len(reply.data)}


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": -1}, "limit"),
     ({"limit": "1e3"}, "limit"), ({"limit": ""}, "limit"), ({"offset": -1}, "offset"),
     ({"offset": "abc"}, "offset"), ({"offset": "99999999999999999999"}, "offset"),
     ({"offset": str(2**63)}, "offset"), ({"limit": "99999999999999999999"}, "limit")],
)
async def test_bad_paging_is_400(api: Api, path: str, params: dict[str, str],
                                 field: str) -> None:
    assert_validation(await api.get(path, params=params), field)


@pytest.mark.parametrize("path", PAGED)
async def test_far_offset_is_an_empty_page(api: Api, path: str) -> None:
    reply = await api.get(path, params={"limit": 100, "offset": 2_000_000_000})
    assert reply.status == 200 and reply.data == []
    assert reply.body["meta"] == {"limit": 100, "offset": 2_000_000_000, "count": 0}


@pytest.mark.parametrize("path", UNPAGED)
async def test_unpaged_lists_have_no_meta(api: Api, path: str) -> None:
    reply = await api.get(path, params={"limit": 1, "offset": 1})
    assert reply.status == 200 and "meta" not in reply.body


@pytest.mark.parametrize("path", PAGED + UNPAGED)
async def test_envelope_and_rate_limit_headers(api: Api, path: str) -> None:
    reply = await api.get(path)
    assert reply.body["success"] is True and "data" in reply.body
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert reply.headers.get(header, "").isdigit(), (header, dict(reply.headers))
    assert_error(await api.get(path, key="malformed"), 401, "TOKEN_INVALID")
