"""Wiki (reference 3.10)."""

from __future__ import annotations

import uuid

import pytest

from .helpers import validation_fields

LIST_KEYS = {
    "id", "title", "slug", "excerpt", "category", "tags", "product_id", "sku_id", "is_published",
    "published_at", "meta_title", "meta_description", "featured_image_url", "description",
    "estimated_time_minutes", "difficulty", "tools_required", "created_at", "updated_at",
}
DETAIL_KEYS = LIST_KEYS | {"content", "sections"}


async def make_article(api, **fields):
    reply = await api.post("/wiki", json={"title": "Lamp assembly"} | fields, key="write")
    assert reply.status == 201, reply.body
    return reply.data


async def make_product_and_sku(api) -> tuple[str, str]:
    product = await api.post("/products", json={"name": f"Lamp {uuid.uuid4().hex[:6]}"},
                             key="write")
    assert product.status == 201, product.body
    sku = await api.post("/skus", key="write", json={
        "product_id": product.data["id"], "sku": f"L-{uuid.uuid4().hex[:6]}", "color": "Red",
        "filament_type": "PLA"})
    assert sku.status == 201, sku.body
    return product.data["id"], sku.data["id"]


async def test_links_must_exist(empty_api) -> None:
    product_id, sku_id = await make_product_and_sku(empty_api)
    linked = await make_article(empty_api, product_id=product_id, sku_id=sku_id)
    assert (linked["product_id"], linked["sku_id"]) == (product_id, sku_id)
    for field, code in (("product_id", "PRODUCT_NOT_FOUND"), ("sku_id", "SKU_NOT_FOUND")):
        created = await empty_api.post("/wiki", json={"title": f"t {field}", field: "nope"},
                                       key="write")
        assert created.status == 404
        assert created.code == code
        patched = await empty_api.patch(f"/wiki/{linked['id']}", json={field: "nope"},
                                        key="write")
        assert patched.code == code
    unlinked = await empty_api.patch(f"/wiki/{linked['id']}", json={"product_id": None},
                                     key="write")
    assert unlinked.data["product_id"] is None


async def test_create_full_article(empty_api) -> None:
    product_id, sku_id = await make_product_and_sku(empty_api)
    article = await make_article(
        empty_api, title="Lamp: Assembly Guide (v2)!", content="# Steps", excerpt="Short",
        category="Assembly", tags=["lamp", "kit"], product_id=product_id, sku_id=sku_id,
        meta_title="Lamp", meta_description="How to", featured_image_url="https://img.test/a.png",
        description="Build the lamp", estimated_time_minutes=25, difficulty="medium",
        tools_required=["hex key"],
        sections=[
            {"type": "step", "order": 2, "number": 2, "title": "Wire", "warnings": ["Unplug"]},
            {"id": "intro", "type": "subtitle", "order": 1, "title": "Before you start"},
        ],
    )
    assert set(article) == DETAIL_KEYS
    assert article["slug"] == "lamp-assembly-guide-v2"
    assert article["is_published"] is False
    assert article["published_at"] is None
    assert article["tags"] == ["lamp", "kit"]
    assert article["difficulty"] == "medium"
    assert [s["title"] for s in article["sections"]] == ["Before you start", "Wire"]
    assert article["sections"][0]["id"] == "intro"
    assert article["sections"][1]["id"]  # generated
    assert article["sections"][1]["warnings"] == ["Unplug"]


async def test_defaults_and_published_on_create(empty_api) -> None:
    bare = await make_article(empty_api, title="Bare")
    assert bare["tags"] == []
    assert bare["tools_required"] == []
    assert bare["sections"] == []
    published = await make_article(empty_api, title="Live", is_published=True)
    assert published["is_published"] is True
    assert published["published_at"].endswith("Z")


async def test_get_by_id_then_slug(empty_api) -> None:
    article = await make_article(empty_api, slug="lamp-guide")
    by_id = await empty_api.get(f"/wiki/{article['id']}", key="read")
    by_slug = await empty_api.get("/wiki/lamp-guide", key="read")
    assert by_id.data == article
    assert by_slug.data == article
    # an article whose slug equals another article's id: the id wins
    other = await make_article(empty_api, title="Other", slug="other")
    tricky = await make_article(empty_api, title="Tricky", slug="tricky")
    assert (await empty_api.get(f"/wiki/{other['id']}", key="read")).data["id"] == other["id"]
    assert (await empty_api.get("/wiki/tricky", key="read")).data["id"] == tricky["id"]
    missing = await empty_api.get("/wiki/no-such-article", key="read")
    assert missing.status == 404
    assert missing.code == "ARTICLE_NOT_FOUND"


async def test_duplicate_slug(empty_api) -> None:
    first = await make_article(empty_api, title="Same Title")
    dup = await empty_api.post("/wiki", json={"title": "Same title"}, key="write")  # generated
    assert dup.status == 409
    assert dup.code == "DUPLICATE_SLUG"
    explicit = await empty_api.post("/wiki", json={"title": "X", "slug": "same-title"},
                                    key="write")
    assert explicit.code == "DUPLICATE_SLUG"
    second = await make_article(empty_api, title="Second")
    clash = await empty_api.patch(f"/wiki/{second['id']}", json={"slug": first["slug"]},
                                  key="write")
    assert clash.status == 409
    assert clash.code == "DUPLICATE_SLUG"
    own = await empty_api.patch(f"/wiki/{first['id']}", json={"slug": first["slug"]},
                                key="write")
    assert own.status == 200  # its own slug is not a duplicate


@pytest.mark.parametrize("slug", ["Upper", "two--dashes", "-lead", "trail-", "sp ace", "ü"])
async def test_slug_regex(empty_api, slug) -> None:
    reply = await empty_api.post("/wiki", json={"title": "T", "slug": slug}, key="write")
    assert "slug" in validation_fields(reply)


async def test_slug_generated_from_symbols_only_title(empty_api) -> None:
    article = await make_article(empty_api, title="!!!")
    assert article["slug"] == "article"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "title"), ({"title": ""}, "title"), ({"title": "x" * 201}, "title"),
     ({"title": "t", "difficulty": "insane"}, "difficulty"),
     ({"title": "t", "tags": "lamp"}, "tags"),
     ({"title": "t", "estimated_time_minutes": -1}, "estimated_time_minutes"),
     ({"title": "t", "sections": [{"type": "chapter"}]}, "sections.0.type"),
     ({"title": "t", "author_id": "me"}, "author_id"),
     ({"title": "t", "is_published": "yes"}, "is_published")],
)
async def test_create_validation(empty_api, body, field) -> None:
    reply = await empty_api.post("/wiki", json=body, key="write")
    assert field in validation_fields(reply)


async def test_patch(empty_api) -> None:
    article = await make_article(empty_api, category="Old", content="v1")
    reply = await empty_api.patch(f"/wiki/{article['id']}", key="write", json={
        "title": "Renamed", "category": "New", "content": "v2", "sections": [{"title": "Only"}],
        "excerpt": None,
    })
    assert reply.status == 200, reply.body
    data = reply.data
    assert (data["title"], data["category"], data["content"]) == ("Renamed", "New", "v2")
    assert data["slug"] == article["slug"]  # not regenerated
    assert data["sections"][0]["title"] == "Only"
    assert data["sections"][0]["order"] == 0
    rejected = await empty_api.patch(f"/wiki/{article['id']}", json={"is_published": True},
                                     key="write")
    assert "is_published" in validation_fields(rejected)
    missing = await empty_api.patch(f"/wiki/{uuid.uuid4()}", json={"title": "x"}, key="write")
    assert missing.code == "ARTICLE_NOT_FOUND"


async def test_publish_unpublish(empty_api) -> None:
    article = await make_article(empty_api)
    path = f"/wiki/{article['id']}"
    published = await empty_api.post(f"{path}/publish", key="write")
    assert published.status == 200
    assert published.data["is_published"] is True
    stamp = published.data["published_at"]
    assert stamp
    again = await empty_api.post(f"{path}/publish", key="write")
    assert again.status == 400
    assert again.code == "ALREADY_PUBLISHED"
    hidden = await empty_api.post(f"{path}/unpublish", key="write")
    assert hidden.data["is_published"] is False
    assert hidden.data["published_at"] == stamp  # kept
    twice = await empty_api.post(f"{path}/unpublish", key="write")
    assert twice.status == 400
    assert twice.code == "ALREADY_UNPUBLISHED"
    for action in ("publish", "unpublish"):
        missing = await empty_api.post(f"/wiki/{uuid.uuid4()}/{action}", key="write")
        assert missing.code == "ARTICLE_NOT_FOUND"


async def test_list_filters_projection_and_paging(empty_api) -> None:
    await make_article(empty_api, title="Alpha", category="Assembly", content="glue the base")
    await make_article(empty_api, title="Beta", category="Maintenance", is_published=True)
    await make_article(empty_api, title="Gamma", category="Assembly", excerpt="Uses GLUE too")
    reply = await empty_api.get("/wiki", key="read")
    assert reply.body["meta"] == {"limit": 50, "offset": 0, "count": 3}
    assert [a["title"] for a in reply.data] == ["Gamma", "Beta", "Alpha"]  # recently updated
    assert all(set(a) == LIST_KEYS for a in reply.data)
    assembly = await empty_api.get("/wiki", params={"category": "Assembly"}, key="read")
    assert {a["title"] for a in assembly.data} == {"Alpha", "Gamma"}
    live = await empty_api.get("/wiki", params={"is_published": "true"}, key="read")
    assert [a["title"] for a in live.data] == ["Beta"]
    drafts = await empty_api.get("/wiki", params={"is_published": "false"}, key="read")
    assert len(drafts.data) == 2
    glue = await empty_api.get("/wiki", params={"search": "Glue"}, key="read")
    assert {a["title"] for a in glue.data} == {"Alpha", "Gamma"}
    wildcard = await empty_api.get("/wiki", params={"search": "%"}, key="read")
    assert wildcard.data == []  # LIKE wildcards are escaped
    page = await empty_api.get("/wiki", params={"limit": 2, "offset": 2}, key="read")
    assert page.body["meta"] == {"limit": 2, "offset": 2, "count": 1}
    assert [a["title"] for a in page.data] == ["Alpha"]
    for params, field in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"),
                          ({"offset": -1}, "offset"), ({"is_published": "1"}, "is_published")):
        bad = await empty_api.get("/wiki", params=params, key="read")
        assert field in validation_fields(bad)


async def test_categories(empty_api) -> None:
    for title, category in (("a", "Maintenance"), ("b", "Assembly"), ("c", "Assembly"),
                            ("d", None), ("e", "")):
        await make_article(empty_api, title=title, category=category)
    reply = await empty_api.get("/wiki/categories", key="read")
    assert reply.data == ["Assembly", "Maintenance"]
    assert "meta" not in reply.body


async def test_delete(empty_api) -> None:
    article = await make_article(empty_api)
    reply = await empty_api.delete(f"/wiki/{article['id']}", key="write")
    assert reply.data == {"id": article["id"], "deleted": True}
    assert (await empty_api.get(f"/wiki/{article['id']}", key="read")).status == 404
    assert (await empty_api.delete(f"/wiki/{article['id']}", key="write")).status == 404


async def test_author_ids_never_exposed(api) -> None:
    article = await make_article(api)
    await api.patch(f"/wiki/{article['id']}", json={"title": "edited"}, key="write")
    replies = [
        await api.get(f"/wiki/{article['id']}", key="read"),
        await api.get("/wiki", key="read"),
        await api.post(f"/wiki/{article['id']}/publish", key="write"),
    ]
    for reply in replies:
        text = str(reply.body)
        assert "author_id" not in text
        assert "last_edited_by" not in text
    demo = await api.get("/wiki/changing-filament-on-the-voron", key="read")
    assert demo.data["is_published"] is True
    assert len(demo.data["sections"]) == 3


async def test_concurrent_creates_with_one_slug(empty_api) -> None:
    import asyncio

    replies = await asyncio.gather(*(
        empty_api.post("/wiki", json={"title": f"Race {n}", "slug": "race"}, key="write")
        for n in range(8)
    ))
    assert sorted(r.status for r in replies) == [201] + [409] * 7
    assert {r.code for r in replies if r.status == 409} == {"DUPLICATE_SLUG"}
