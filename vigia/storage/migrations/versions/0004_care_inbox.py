"""The care inbox: items grouping mentions, their notes, and prepared replies

Revision ID: 0004
Revises: 0003
Created: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("brand", sa.String(length=100), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("mention_id", _Id, nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("topic", sa.String(length=40), nullable=True),
        sa.Column("author_key", sa.String(length=64), nullable=True),
        sa.Column("thread_key", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("mentions", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("first_response_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("close_reason", sa.String(length=12), nullable=True),
        sa.Column("reply_url", sa.Text(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("escalation_rule", sa.String(length=60), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("brand", "group_key", name="uq_inbox_items_group"),
    )
    op.create_index("ix_inbox_items_queue", "inbox_items", ["state", "priority"], unique=False)
    op.create_index(
        "ix_inbox_items_reopen", "inbox_items", ["thread_key", "author_key"], unique=False
    )
    op.create_index("ix_inbox_items_updated", "inbox_items", ["updated_at"], unique=False)
    op.create_table(
        "inbox_mentions",
        sa.Column("item_id", _Id, nullable=False),
        sa.Column("mention_id", _Id, nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["inbox_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("item_id", "mention_id"),
    )
    op.create_index("ix_inbox_mentions_mention", "inbox_mentions", ["mention_id"], unique=False)
    op.create_table(
        "inbox_notes",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("item_id", _Id, nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["inbox_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_inbox_notes_item", "inbox_notes", ["item_id"], unique=False)
    op.create_table(
        "prepared_replies",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("prepared_replies")
    op.drop_index("ix_inbox_notes_item", table_name="inbox_notes")
    op.drop_table("inbox_notes")
    op.drop_index("ix_inbox_mentions_mention", table_name="inbox_mentions")
    op.drop_table("inbox_mentions")
    op.drop_index("ix_inbox_items_updated", table_name="inbox_items")
    op.drop_index("ix_inbox_items_reopen", table_name="inbox_items")
    op.drop_index("ix_inbox_items_queue", table_name="inbox_items")
    op.drop_table("inbox_items")
