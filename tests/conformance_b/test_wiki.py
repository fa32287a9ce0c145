"""3.10 Wiki: list/detail projections, id-or-slug, categories, create/patch, publishing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import (
    MAX_INT32,
    REF_WIKI,
    REF_WIKI_LIST,
    Api,
    assert_error,
    assert_fields,
    assert_list,
    assert_no_leaks,
    assert_validation,
)


async def article(api: Api, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Replace a hotend")
    reply = await api.post("/wiki", json=body, key="write")
    assert reply.status == 201, reply.body
    assert_fields(reply.data, REF_WIKI, "POST /wiki")
    assert_no_leaks(reply.body)
    return dict(reply.data)


async def test_create_detail_and_list_projections(api: Api) -> None:
    made = await article(
        api, title="Assemble the Desk Organizer", content="# Steps", excerpt="How to",
        category="Assembly", tags=["kit", "desk"], tools_required=["hex key"],
        estimated_time_minutes=15, difficulty="easy",
        sections=[{"type": "step", "order": 2, "title": "Second", "warnings": ["hot"]},
                  {"type": "subtitle", "order": 1, "title": "First"}],
    )
    assert made["slug"] == "assemble-the-desk-organizer", "generated from the title"
    assert made["is_published"] is False and made["published_at"] is None
    assert made["tags"] == ["kit", "desk"] and made["tools_required"] == ["hex key"]
    assert [s["title"] for s in made["sections"]] == ["First", "Second"]
    assert all(s.get("id") for s in made["sections"])
    for ref in (made["id"], made["slug"]):
        got = await api.get(f"/wiki/{ref}", key="read")
        assert got.status == 200 and got.data["id"] == made["id"]
        assert_fields(got.data, REF_WIKI, "GET /wiki/{idOrSlug}")
    rows = assert_list(await api.get("/wiki", key="read"), REF_WIKI_LIST, paged=True)
    assert rows[0]["id"] == made["id"], "most recently updated first"
    assert_error(await api.get("/wiki/no-such-article"), 404, "ARTICLE_NOT_FOUND")


async def test_id_is_tried_before_slug(api: Api) -> None:
    first = await article(api, title="One")
    second = await article(api, title="Two", slug=first["id"])  # a UUID is a valid slug
    got = await api.get(f"/wiki/{first['id']}")
    assert got.data["id"] == first["id"], "the id wins over another article's equal slug"
    assert (await api.get(f"/wiki/{second['id']}")).data["slug"] == first["id"]


async def test_published_flag_and_publishing(api: Api) -> None:
    live = await article(api, title="Live on create", is_published=True)
    assert live["is_published"] is True and live["published_at"]
    draft = await article(api, title="Draft")
    path = f"/wiki/{draft['id']}"
    published = await api.post(f"{path}/publish", key="write")
    assert published.status == 200, published.body
    assert_fields(published.data, REF_WIKI)
    stamp = published.data["published_at"]
    assert published.data["is_published"] is True and stamp
    assert_error(await api.post(f"{path}/publish"), 400, "ALREADY_PUBLISHED")
    unpublished = await api.post(f"{path}/unpublish")
    assert unpublished.status == 200
    assert unpublished.data["is_published"] is False
    assert unpublished.data["published_at"] == stamp, "unpublish keeps published_at"
    assert_error(await api.post(f"{path}/unpublish"), 400, "ALREADY_UNPUBLISHED")
    assert_error(await api.post("/wiki/nope/publish"), 404, "ARTICLE_NOT_FOUND")
    assert_error(await api.post("/wiki/nope/unpublish"), 404, "ARTICLE_NOT_FOUND")
    pub = (await api.get("/wiki", params={"is_published": "true", "limit": 100})).data
    unpub = (await api.get("/wiki", params={"is_published": "false", "limit": 100})).data
    assert live["id"] in {r["id"] for r in pub} and all(r["is_published"] for r in pub)
    assert draft["id"] in {r["id"] for r in unpub} and not any(r["is_published"] for r in unpub)
    for bad in ("yes", "1", "TRUEISH"):
        assert_validation(await api.get("/wiki", params={"is_published": bad}), "is_published")


async def test_patch_rules(api: Api) -> None:
    made = await article(api, title="Patch me")
    other = await article(api, title="Other one")
    path = f"/wiki/{made['id']}"
    patched = await api.patch(path, json={"title": "Patched", "category": "Care", "tags": []})
    assert patched.status == 200, patched.body
    assert_fields(patched.data, REF_WIKI, "PATCH /wiki/{id}")
    assert patched.data["slug"] == made["slug"], "a new title does not move the slug"
    assert patched.data["title"] == "Patched" and patched.data["category"] == "Care"
    assert (await api.patch(path, json={"slug": made["slug"]})).status == 200, "own slug is fine"
    assert_error(await api.patch(path, json={"slug": other["slug"]}), 409, "DUPLICATE_SLUG")
    assert_validation(await api.patch(path, json={"is_published": True}), "is_published")
    for hidden in ("author_id", "last_edited_by", "published_at", "id"):
        assert_validation(await api.patch(path, json={hidden: "x"}), hidden)
    assert_error(await api.patch("/wiki/nope", json={"title": "x"}), 404, "ARTICLE_NOT_FOUND")
    assert_error(await api.patch(path, json={"title": "x"}, key="read"), 403,
                 "INSUFFICIENT_SCOPE")


async def test_duplicate_slugs(api: Api) -> None:
    await article(api, title="Same title")
    assert_error(await api.post("/wiki", json={"title": "Same title"}), 409, "DUPLICATE_SLUG")
    assert_error(await api.post("/wiki", json={"title": "x", "slug": "same-title"}), 409,
                 "DUPLICATE_SLUG")
    replies = await asyncio.gather(
        *(api.post("/wiki", json={"title": "Race", "slug": "race"}) for _ in range(6))
    )
    assert sorted(r.status for r in replies) == [201] + [409] * 5


async def test_categories_and_search(api: Api) -> None:
    await article(api, title="A1", category="Zeta")
    await article(api, title="A2", category="Alpha")
    await article(api, title="A3", category="Alpha")
    await article(api, title="A4", category="")
    await article(api, title="Percent 100% sure", content="Use 50_50 mix")
    cats = await api.get("/wiki/categories", key="read")
    assert cats.status == 200 and "meta" not in cats.body
    assert cats.data == sorted(set(cats.data)) and "" not in cats.data
    assert {"Alpha", "Zeta"} <= set(cats.data)
    alpha = (await api.get("/wiki", params={"category": "Alpha"})).data
    assert sorted(r["title"] for r in alpha) == ["A2", "A3"]
    assert [r["title"] for r in (await api.get("/wiki", params={"search": "PERCENT"})).data] == [
        "Percent 100% sure"]
    assert [r["title"] for r in (await api.get("/wiki", params={"search": "100%"})).data] == [
        "Percent 100% sure"]
    assert (await api.get("/wiki", params={"search": "%"})).data[0]["title"].startswith("Percent")
    assert (await api.get("/wiki", params={"search": "0_5"})).data[0]["title"].startswith(
        "Percent")
    assert (await api.get("/wiki", params={"search": "' OR 1=1 --"})).data == []


async def test_paging(api: Api) -> None:
    for n in range(3):
        await article(api, title=f"Paged {n}")
    page = await api.get("/wiki", params={"limit": 2, "offset": 1})
    assert page.body["meta"] == {"limit": 2, "offset": 1, "count": 2}
    for params, field in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                          ({"offset": -1}, "offset")):
        assert_validation(await api.get("/wiki", params=params), field)


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "title"), ({"title": ""}, "title"), ({"title": "t" * 201}, "title"),
     ({"title": 5}, "title"), ({"title": "x", "slug": "Bad Slug"}, "slug"),
     ({"title": "x", "slug": "a--b"}, "slug"), ({"title": "x", "slug": "-a"}, "slug"),
     ({"title": "x", "slug": "a" * 201}, "slug"), ({"title": "x", "is_published": "true"},
                                                   "is_published"),
     ({"title": "x", "author_id": "me"}, "author_id"),
     ({"title": "x", "last_edited_by": "me"}, "last_edited_by"),
     ({"title": "x", "tags": "kit"}, "tags"), ({"title": "x", "tags": [1]}, "tags"),
     ({"title": "x", "excerpt": "e" * 501}, "excerpt"),
     ({"title": "x", "category": "c" * 101}, "category"),
     ({"title": "x", "difficulty": "insane"}, "difficulty"),
     ({"title": "x", "estimated_time_minutes": -1}, "estimated_time_minutes"),
     ({"title": "x", "estimated_time_minutes": "10"}, "estimated_time_minutes"),
     ({"title": "x", "estimated_time_minutes": MAX_INT32 + 1}, "estimated_time_minutes"),
     ({"title": "x", "sections": [{"type": "chapter"}]}, "sections"),
     ({"title": "x", "sections": {"type": "step"}}, "sections"),
     ({"title": "x", "sections": [{"type": "step", "order": "1"}]}, "sections"),
     ({"title": "x", "sections": [{"type": "step", "bogus": 1}]}, "sections"),
     ({"title": "x", "featured_image_url": "u" * 501}, "featured_image_url")],
)
async def test_create_validation(api: Api, body: dict[str, Any], field: str) -> None:
    assert_validation(await api.post("/wiki", json=body), field)


async def test_links_must_exist(api: Api) -> None:
    assert_error(await api.post("/wiki", json={"title": "x", "product_id": "nope"}), 404,
                 "PRODUCT_NOT_FOUND")
    assert_error(await api.post("/wiki", json={"title": "x", "sku_id": "nope"}), 404,
                 "SKU_NOT_FOUND")
    assert_error(await api.post("/wiki", json={"title": "x", "product_id": "p" * 64}), 404,
                 "PRODUCT_NOT_FOUND")


async def test_unicode_round_trip(api: Api) -> None:
    made = await article(api, title="Ünïcödé 中文 ✓", content="🙂 " * 1000,
                         tags=["日本語"], sections=[{"type": "note", "content": "注意"}])
    got = (await api.get(f"/wiki/{made['id']}")).data
    assert got["title"] == "Ünïcödé 中文 ✓" and got["tags"] == ["日本語"]
    assert got["sections"][0]["content"] == "注意"
    assert got["slug"] and all(c.isascii() for c in got["slug"])


async def test_scopes_and_keys(api: Api) -> None:
    for path in ("/wiki", "/wiki/categories", "/wiki/x"):
        reply = await api.get(path, key="write")
        assert_error(reply, 403, "INSUFFICIENT_SCOPE")
        assert reply.body["error"] == "API key missing required scope: read"
    for path in ("/wiki", "/wiki/x/publish", "/wiki/x/unpublish"):
        reply = await api.post(path, json={"title": "t"} if path == "/wiki" else None, key="read")
        assert_error(reply, 403, "INSUFFICIENT_SCOPE")
        assert reply.body["error"] == "API key missing required scope: write"
    assert_error(await api.get("/wiki", key=None), 401, "UNAUTHORIZED")
    assert_error(await api.get("/wiki", key="expired"), 401, "TOKEN_EXPIRED")


async def test_concurrent_publish_applies_once(api: Api) -> None:
    made = await article(api, title="Race to publish")
    replies = await asyncio.gather(
        *(api.post(f"/wiki/{made['id']}/publish") for _ in range(6))
    )
    assert sorted(r.status for r in replies) == [200] + [400] * 5
    assert all(r.code == "ALREADY_PUBLISHED" for r in replies if r.status == 400)


async def test_delete(api: Api) -> None:
    made = await article(api, title="Short lived")
    assert_error(await api.delete(f"/wiki/{made['id']}", key="read"), 403, "INSUFFICIENT_SCOPE")
    assert (await api.delete(f"/wiki/{made['id']}", key="write")).status == 200
    assert_error(await api.get(f"/wiki/{made['slug']}"), 404, "ARTICLE_NOT_FOUND")
    assert_error(await api.delete(f"/wiki/{made['id']}"), 404, "ARTICLE_NOT_FOUND")
