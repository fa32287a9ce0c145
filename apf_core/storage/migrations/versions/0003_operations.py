"""Operations: materials, wiki articles, worklist tasks.

Revision ID: 0003_operations
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from apf_core.storage.types import UTCDateTime

revision = "0003_operations"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(36)


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    ]


def _unit_stock(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", ID, primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("color", sa.String(50), nullable=True),
        sa.Column("brand", sa.String(100), nullable=True),
        sa.Column("diameter", sa.String(20), nullable=True),
        sa.Column("size", sa.String(50), nullable=True),
        sa.Column("remaining_units", sa.Integer, nullable=False, server_default="0"),
        sa.Column("low_threshold", sa.Integer, nullable=True),
        sa.Column("location", sa.String(200), nullable=True),
        *_timestamps(),
    )


def upgrade() -> None:
    op.create_table(
        "filament_spools",
        sa.Column("id", ID, primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("color", sa.String(50), nullable=False),
        sa.Column("hex_code", sa.String(7), nullable=True),
        sa.Column("brand", sa.String(100), nullable=True),
        sa.Column("diameter", sa.String(20), nullable=True),
        sa.Column("remaining_grams", sa.Float, nullable=False, server_default="0"),
        sa.Column("spool_weight_grams", sa.Float, nullable=True),
        sa.Column("low_threshold", sa.Float, nullable=True),
        sa.Column("location", sa.String(200), nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_filament_spools_type", "filament_spools", ["type", "color"])
    _unit_stock("material_components")
    op.create_index("ix_material_components_type", "material_components", ["type"])
    _unit_stock("material_packaging")
    _unit_stock("material_parts")

    op.create_table(
        "wiki_articles",
        sa.Column("id", ID, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("excerpt", sa.String(500), nullable=True),
        sa.Column("content", sa.Text, nullable=True),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("tags", sa.JSON, nullable=True),
        sa.Column("product_id", ID, nullable=True),
        sa.Column("sku_id", ID, nullable=True),
        sa.Column("is_published", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.Column("meta_title", sa.String(200), nullable=True),
        sa.Column("meta_description", sa.String(500), nullable=True),
        sa.Column("featured_image_url", sa.String(500), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("estimated_time_minutes", sa.Integer, nullable=True),
        sa.Column("difficulty", sa.String(20), nullable=True),
        sa.Column("tools_required", sa.JSON, nullable=True),
        sa.Column("sections", sa.JSON, nullable=True),
        sa.Column("author_id", ID, nullable=True),
        sa.Column("last_edited_by", ID, nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("slug", name="uq_wiki_articles_slug"),
    )
    op.create_index("ix_wiki_articles_category", "wiki_articles", ["category"])
    op.create_index("ix_wiki_articles_updated_at", "wiki_articles", ["updated_at"])

    op.create_table(
        "worklist_tasks",
        sa.Column("id", ID, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("subtitle", sa.String(200), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("task_type", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False, server_default="medium"),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column(
            "printer_id", ID,
            sa.ForeignKey(
                "printers.id", ondelete="SET NULL", name="fk_worklist_tasks_printer_id_printers"
            ),
            nullable=True,
        ),
        sa.Column("assigned_to", sa.String(100), nullable=True),
        sa.Column("estimated_time_minutes", sa.Integer, nullable=True),
        sa.Column("actual_time_minutes", sa.Integer, nullable=True),
        sa.Column("metadata", sa.JSON, nullable=True),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.Column("due_date", UTCDateTime, nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_worklist_tasks_status", "worklist_tasks", ["status", "task_type"])
    op.create_index("ix_worklist_tasks_created_at", "worklist_tasks", ["created_at"])

    # analytics: "jobs of these states finished in this range" is one index seek per state
    op.create_index("ix_jobs_status_completed", "jobs", ["status", "time_completed"])


def downgrade() -> None:
    op.drop_index("ix_jobs_status_completed", table_name="jobs")
    op.drop_table("worklist_tasks")
    op.drop_table("wiki_articles")
    for name in ("material_parts", "material_packaging", "material_components", "filament_spools"):
        op.drop_table(name)
