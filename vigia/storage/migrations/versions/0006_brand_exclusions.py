"""Brand exclusions accepted on the dashboard from the inbox's dismissed-as-irrelevant items

Revision ID: 0006
Revises: 0005
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brand_exclusions",
        sa.Column("brand", sa.String(length=100), nullable=False),
        sa.Column("phrase", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("brand", "phrase"),
    )


def downgrade() -> None:
    op.drop_table("brand_exclusions")
