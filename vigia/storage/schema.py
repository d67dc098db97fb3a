"""The database schema (SQLAlchemy Core), portable between SQLite and PostgreSQL.

Times are stored as naive UTC datetimes. `mentions.published_hour` is the UTC hour a mention was
published, kept so hourly rollups group on a plain column in every dialect.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
_Id = BigInteger().with_variant(Integer(), "sqlite")

mentions = Table(
    "mentions",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("source_id", String(512), nullable=False),
    Column("url", Text, nullable=False),
    Column("author", String(255)),
    Column("author_followers", Integer),  # when the platform reports it (Mastodon), as fetched
    Column("text", Text, nullable=False),
    Column("language", String(8)),
    Column("published_at", DateTime, nullable=False),
    Column("published_hour", DateTime, nullable=False),
    Column("collected_at", DateTime, nullable=False),
    Column("thread_id", String(512)),
    Column("parent_id", String(512)),
    Column("reply_count", Integer),
    Column("repost_count", Integer),
    Column("like_count", Integer),
    Column("quote_count", Integer),
    Column("score", Integer),
    Column("view_count", Integer),
    Column("rating", Integer),
    Column("brand", String(100)),
    Column("sentiment", String(8)),
    Column("compound", Float),
    Column("pos", Float),
    Column("neu", Float),
    Column("neg", Float),
    Column("topics", String(255)),
    Column("raw", Text),
    UniqueConstraint("source", "source_id", name="uq_mentions_source_item"),
    Index("ix_mentions_brand_published", "brand", "published_at"),
    Index("ix_mentions_thread", "source", "thread_id"),
)

engagement_snapshots = Table(
    "engagement_snapshots",
    metadata,
    Column("mention_id", ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True),
    Column("observed_at", DateTime, primary_key=True),
    Column("reply_count", Integer),
    Column("repost_count", Integer),
    Column("like_count", Integer),
    Column("quote_count", Integer),
    Column("score", Integer),
    Column("view_count", Integer),
)

hourly_rollup = Table(
    "hourly_rollup",
    metadata,
    Column("brand", String(100), primary_key=True),
    Column("source", String(100), primary_key=True),
    Column("language", String(8), primary_key=True),
    Column("hour", DateTime, primary_key=True),
    Column("mentions", Integer, nullable=False),
    Column("negative", Integer, nullable=False),
    Column("neutral", Integer, nullable=False),
    Column("positive", Integer, nullable=False),
    Column("scored", Integer, nullable=False),
    Column("compound_sum", Float, nullable=False),
    Index("ix_hourly_rollup_brand_hour", "brand", "hour"),
)

topic_rollup = Table(
    "topic_rollup",
    metadata,
    Column("brand", String(100), primary_key=True),
    Column("topic", String(40), primary_key=True),
    Column("hour", DateTime, primary_key=True),
    Column("mentions", Integer, nullable=False),
    Column("negative", Integer, nullable=False),
)

source_state = Table(
    "source_state",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("cursor", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_attempt_at", DateTime),
    Column("last_success_at", DateTime),
    Column("last_error", Text),
    Column("last_error_at", DateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    # When the source is next due (its interval, or the back-off after a failure).
    Column("next_poll_at", DateTime),
    Column("skipped_items", Integer, nullable=False, default=0),
    # The worker polling the source now, and until when its claim holds unless renewed: a
    # worker that dies leaves a claim that expires, and another worker takes the source over.
    Column("claimed_by", String(100)),
    Column("claimed_until", DateTime),
)

period_runs = Table(
    "period_runs",
    metadata,
    # A job run once per period by whichever worker claims it first (the weekly export's ISO
    # week, the digest's local date); a claim whose worker died expires and is taken over.
    Column("job", String(40), primary_key=True),
    Column("period", String(40), primary_key=True),
    Column("claimed_by", String(100), nullable=False),
    Column("claimed_until", DateTime, nullable=False),
    Column("done_at", DateTime),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("key", String(255), nullable=False, unique=True),
    Column("rule", String(40), nullable=False),
    Column("brand", String(100)),
    Column("subject", String(512)),
    Column("severity", String(10), nullable=False),
    Column("window_start", DateTime, nullable=False),
    Column("window_end", DateTime, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("state", String(12), nullable=False, default="open"),
    Column("opened_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("notified_at", DateTime),
    Column("notified_severity", String(10)),
    Column("acknowledged_at", DateTime),
    Column("resolved_at", DateTime),
    # When the last finding was merged in (the policy's "last seen"), and the notification
    # rounds: each NEW/ESCALATE/REOPEN plans one round of deliveries, numbered from 1.
    Column("last_seen_at", DateTime, nullable=False),
    Column("notify_round", Integer, nullable=False, default=0),
    Column("notify_reason", String(10)),
    Index("ix_alerts_state", "state", "rule", "brand"),
    Index("ix_alerts_rule_subject", "rule", "subject"),
)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("alert_id", ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("recipient", String(255), nullable=False),
    # One row per recipient per notification round, planned in the alert's transaction (an
    # outbox): `next_attempt_at` is set while the delivery is due and cleared once it is done.
    Column("round", Integer, nullable=False, default=1),
    Column("planned_at", DateTime, nullable=False),
    Column("attempted_at", DateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("ok", Boolean, nullable=False, default=False),
    Column("error", Text),
    Column("delivered_at", DateTime),
    Column("next_attempt_at", DateTime),
    # The server may have the message but never confirmed it (a timeout after the body was
    # sent): not resent by itself, shown on the dashboard until someone resends or dismisses it.
    Column("uncertain_at", DateTime),
    UniqueConstraint("alert_id", "round", "channel", "recipient", name="uq_alert_deliveries"),
    Index("ix_alert_deliveries_due", "next_attempt_at"),
)

users = Table(
    "users",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("email", String(255), unique=True),
    Column("role", String(10), nullable=False),
    # An argon2id hash in PHC form ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("password_changed_at", DateTime, nullable=False),
    Column("disabled_at", DateTime),
)

dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    # The SHA-256 of the token in the browser's cookie: a leaked table opens no session.
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(100), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("ended_at", DateTime),
    Index("ix_dashboard_sessions_user", "user_name"),
)

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    # Keyed by the name typed (case-folded), known or not, so guessing costs the same for both.
    Column("name", String(255), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", DateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    # Who: a user's name or e-mail (single sign-on), or "shell:LOGIN" for a CLI run without --as.
    Column("actor", String(255), nullable=False),
    # Where from: dashboard, email-link or cli.
    Column("via", String(20), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target", String(255), nullable=False),
    # The changed fields before and after, as JSON objects.
    Column("before", Text, nullable=False),
    Column("after", Text, nullable=False),
    Index("ix_audit_log_at", "at"),
)

inbox_items = Table(
    "inbox_items",
    metadata,
    # One brand mention that needs an answer, with its near-duplicates (same normalised text or
    # link on other sources, reposts, quotes) grouped in: `group_key` names the group.
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("brand", String(100), nullable=False),
    Column("group_key", String(64), nullable=False),
    # The mention shown for the item (the first one); NULL once retention or forget erased it.
    Column("mention_id", ForeignKey("mentions.id", ondelete="SET NULL")),
    Column("source", String(100), nullable=False),
    Column("language", String(8)),
    Column("topic", String(40)),
    # The author's and thread's keys, for reopening when the same author writes again there.
    Column("author_key", String(64)),
    Column("thread_key", String(64)),
    # new -> assigned -> answered | escalated | dismissed
    Column("state", String(12), nullable=False),
    Column("priority", Float, nullable=False),
    Column("urgent", Boolean, nullable=False),
    # The priority's reasons as a JSON list of short phrases, e.g. ["muy negativa", ...].
    Column("reasons", Text, nullable=False),
    Column("assignee", String(100)),
    Column("mentions", Integer, nullable=False),
    Column("opened_at", DateTime, nullable=False),  # when the first mention was published
    Column("due_at", DateTime, nullable=False),  # the response target's deadline
    Column("first_response_at", DateTime),  # first answered or escalated
    Column("closed_at", DateTime),
    Column("close_reason", String(12)),  # answered, irrelevant, spam
    Column("reply_url", Text),
    Column("escalated_at", DateTime),
    Column("escalation_rule", String(60)),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("brand", "group_key", name="uq_inbox_items_group"),
    # Covers a queue page's filter and sort, so a page is read from the index alone (0005).
    Index("ix_inbox_items_queue", "state", "priority", "due_at", "brand", "assignee"),
    Index("ix_inbox_items_reopen", "thread_key", "author_key"),
    Index("ix_inbox_items_updated", "updated_at"),
    Index("ix_inbox_items_opened", "opened_at"),
)

inbox_mentions = Table(
    "inbox_mentions",
    metadata,
    Column("item_id", ForeignKey("inbox_items.id", ondelete="CASCADE"), primary_key=True),
    Column("mention_id", ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_inbox_mentions_mention", "mention_id"),
)

inbox_notes = Table(
    "inbox_notes",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("item_id", ForeignKey("inbox_items.id", ondelete="CASCADE"), nullable=False),
    Column("author", String(255), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("text", Text, nullable=False),
    Index("ix_inbox_notes_item", "item_id"),
)

prepared_replies = Table(
    "prepared_replies",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    # A stable name from config.yaml (seeded once), or one given on the dashboard.
    Column("key", String(60), nullable=False, unique=True),
    Column("topic", String(40)),  # NULL: any topic
    Column("language", String(8), nullable=False),
    Column("title", String(120), nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("updated_by", String(255), nullable=False),
)

brand_exclusions = Table(
    "brand_exclusions",
    metadata,
    # Phrases a manager accepted from the inbox's suggestions: they rule a brand match out, like
    # the brand's `exclude` in config.yaml (both apply).
    Column("brand", String(100), primary_key=True),
    Column("phrase", String(200), primary_key=True),
    Column("added_by", String(255), nullable=False),
    Column("added_at", DateTime, nullable=False),
)
