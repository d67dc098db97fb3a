"""The inbox queue's index covers what a page sorts and filters on

The queue's first page sorts a view's items on priority and due time, optionally for some brands
or one assignee: read from this index alone, it takes tens of milliseconds at 1 M mentions
(bench/inbox_queue.py), where the index on (state, priority) left hundreds for the larger views.
The Rendimiento page and the weekly export read one week's items by opening time.

Revision ID: 0005
Revises: 0004
Created: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COVERING = ["state", "priority", "due_at", "brand", "assignee"]


def upgrade() -> None:
    op.drop_index("ix_inbox_items_queue", table_name="inbox_items")
    op.create_index("ix_inbox_items_queue", "inbox_items", _COVERING, unique=False)
    op.create_index("ix_inbox_items_opened", "inbox_items", ["opened_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_inbox_items_opened", table_name="inbox_items")
    op.drop_index("ix_inbox_items_queue", table_name="inbox_items")
    op.create_index("ix_inbox_items_queue", "inbox_items", ["state", "priority"], unique=False)
