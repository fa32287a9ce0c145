"""Upload tokens: remember when a token was used (a reused token says so, until purged).

Revision ID: 0013_upload_token_used
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from apf_core.storage.types import UTCDateTime

revision = "0013_upload_token_used"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("upload_tokens") as batch:
        batch.add_column(sa.Column("used_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upload_tokens") as batch:
        batch.drop_column("used_at")
