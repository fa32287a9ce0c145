"""Wiki articles (reference 3.10). Sections live inline as a JSON list.

``author_id`` / ``last_edited_by`` hold the API key id of the writer; never returned.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text

from ..types import UTCDateTime
from . import metadata

ID = String(36)

wiki_articles = Table(
    "wiki_articles",
    metadata,
    Column("id", ID, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("slug", String(200), nullable=False, unique=True),
    Column("excerpt", String(500), nullable=True),
    Column("content", Text, nullable=True),
    Column("category", String(100), nullable=True),
    Column("tags", JSON, nullable=True),
    Column("product_id", ID, nullable=True),
    Column("sku_id", ID, nullable=True),
    Column("is_published", Boolean, nullable=False, server_default="0"),
    Column("published_at", UTCDateTime, nullable=True),
    Column("meta_title", String(200), nullable=True),
    Column("meta_description", String(500), nullable=True),
    Column("featured_image_url", String(500), nullable=True),
    Column("description", Text, nullable=True),
    Column("estimated_time_minutes", Integer, nullable=True),
    Column("difficulty", String(20), nullable=True),
    Column("tools_required", JSON, nullable=True),
    Column("sections", JSON, nullable=True),
    Column("author_id", ID, nullable=True),
    Column("last_edited_by", ID, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_wiki_articles_category", wiki_articles.c.category)
Index("ix_wiki_articles_updated_at", wiki_articles.c.updated_at)
