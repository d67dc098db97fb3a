"""`vigia inbox`: the care inbox from the shell (list, assign, close, escalate, reopen, note)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from timeutil import utc_now
from vigia.access.roles import Actor, Permission
from vigia.config import Settings, load_settings
from vigia.exports import iso_week, parse_week, week_bounds
from vigia.inbox import actions, escalation
from vigia.inbox.stats import Figures, week_figures
from vigia.inbox.targets import soon
from vigia.storage.inbox import (
    CLOSED_STATES,
    OPEN_STATES,
    ItemRow,
    QueueFilter,
    queue_count,
    queue_page,
)

Act = Callable[[argparse.Namespace, Engine, Actor, Settings], int]
STATE_CHOICES = {
    "open": OPEN_STATES,
    "new": ("new",),
    "assigned": ("assigned",),
    "escalated": ("escalated",),
    "answered": ("answered",),
    "dismissed": ("dismissed",),
    "closed": CLOSED_STATES,
    "all": OPEN_STATES + CLOSED_STATES,
}
# `close --reason`: answered, or dismissed (as irrelevant, or as spam).
CLOSE_REASONS = ("answered", "dismissed", "irrelevant", "spam")


def _as_json(item: ItemRow) -> dict[str, object]:
    return {
        "id": item.id,
        "state": item.state,
        "priority": item.priority,
        "urgent": item.urgent,
        "reasons": list(item.reasons),
        "assignee": item.assignee,
        "brand": item.brand,
        "source": item.source,
        "language": item.language,
        "topic": item.topic,
        "mentions": item.mentions,
        "author": item.author,
        "text": item.text,
        "url": item.url,
        "opened_at": item.opened_at.isoformat(),
        "due_at": item.due_at.isoformat(),
        "first_response_at": item.first_response_at and item.first_response_at.isoformat(),
        "closed_at": item.closed_at and item.closed_at.isoformat(),
    }


def _line(item: ItemRow, zone: ZoneInfo) -> str:
    text = " ".join((item.text or "(erased)").split())[:80]
    due = item.due_at.astimezone(zone)
    return (
        f"{item.id:>6}  {item.priority:>5.1f}  {item.state:<9} {item.assignee or '-':<10} "
        f"{item.brand:<12} due {due:%m-%d %H:%M}  {text}"
    )


def _list(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    actor.require(Permission.READ)
    now = utc_now()
    wanted = QueueFilter(states=STATE_CHOICES[args.state], brands=tuple(args.brand or ()))
    due_soon = soon(now, settings.inbox, settings.zone)
    with engine.connect() as conn:
        items = queue_page(conn, wanted, now, due_soon, limit=args.limit)
        total = queue_count(conn, wanted, now)
    if args.json:
        print(json.dumps([_as_json(item) for item in items], ensure_ascii=False, indent=1))
        return 0
    for item in items:
        print(_line(item, settings.zone))
    print(f"{len(items)} of {total} items ({args.state}), highest priority first")
    return 0


def _done(items: Sequence[ItemRow], verb: str) -> int:
    for item in items:
        print(f"inbox item {item.id}: {verb} ({item.state}, assignee {item.assignee or '-'})")
    return 0


def _assign(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    return _done(actions.assign(engine, actor, args.ids, args.user, utc_now()), "assigned")


def _close(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    now = utc_now()
    if args.reason == "answered":
        items = actions.answer(engine, actor, args.ids, now, reply_url=args.reply_url)
    else:
        reason = "irrelevant" if args.reason == "dismissed" else args.reason
        items = actions.dismiss(engine, actor, args.ids, reason, now)
    if args.note:
        for item in items:
            actions.note(engine, actor, item.id, args.note, now)
    return _done(items, "closed")


def _escalate(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    return _done(escalation.escalate(engine, settings, actor, args.ids, utc_now()), "escalated")


def _reopen(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    reopened = actions.reopen(engine, actor, args.ids, utc_now(), settings.inbox, settings.zone)
    return _done(reopened, "reopened")


def _note(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    actions.note(engine, actor, args.id, args.text, utc_now())
    print(f"inbox item {args.id}: note added")
    return 0


def _minutes(span: timedelta | None) -> str:
    return f"{span.total_seconds() / 60:.0f} min" if span is not None else "—"


def _stats(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    """One ISO week's response times: per brand, channel, topic and agent (or --json)."""
    actor.require(Permission.READ)
    now = utc_now()
    week = args.week or iso_week(now, settings.zone)
    start, end = week_bounds(*parse_week(week), settings.zone)
    with engine.connect() as conn:
        rows = week_figures(conn, settings.inbox, settings.zone, start, end, now)
    if args.json:
        print(json.dumps([_figures_json(f) for f in rows], ensure_ascii=False, indent=1))
        return 0
    print(f"{week}: items opened that week, first response in working time")
    print(f"{'dimension':<10} {'value':<22} {'items':>5} {'answ.':>5} {'open':>4} {'late':>4} "
          f"{'median':>8} {'p90':>8} {'in target':>9}")  # fmt: skip
    for f in rows:
        share = f"{f.within_target:.0%}" if f.within_target is not None else "—"
        print(
            f"{f.dimension:<10} {(f.value or '—')[:22]:<22} {f.items:>5} {f.answered:>5} "
            f"{f.open:>4} {f.overdue:>4} {_minutes(f.median_first_response):>8} "
            f"{_minutes(f.p90_first_response):>8} {share:>9}"
        )
    return 0


def _figures_json(f: Figures) -> dict[str, object]:
    def minutes(span: timedelta | None) -> float | None:
        return round(span.total_seconds() / 60, 1) if span is not None else None

    return {
        "dimension": f.dimension,
        "value": f.value,
        "items": f.items,
        "answered": f.answered,
        "open": f.open,
        "overdue": f.overdue,
        "median_first_response_min": minutes(f.median_first_response),
        "p90_first_response_min": minutes(f.p90_first_response),
        "within_target_share": f.within_target,
    }


def _test_rule(args: argparse.Namespace) -> int:
    """Which escalation rules a sample text would meet, and why (no database needed)."""
    from collectors.base import Mention
    from vigia.analyse import Analyser

    settings = load_settings(Path(args.config))
    sample = Mention("cli", "sample", "", utc_now(), args.text)
    (analysed,) = Analyser(settings).analyse_all([sample])
    compound = analysed.sentiment.compound if analysed.sentiment else 0.0
    print(
        escalation.explain(
            settings.inbox.escalation,
            args.text,
            analysed.language or "es",
            compound,
            topics=analysed.topics,
            engagement=args.engagement,
            followers=args.followers,
        )
    )
    return 0


def add_inbox(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    as_user: argparse.ArgumentParser,
    acts: Callable[[argparse.ArgumentParser, Act], None],
) -> None:
    """Register `vigia inbox ...`; `acts` runs a subcommand as the --as account (see cli)."""
    inbox = commands.add_parser(
        "inbox", help="the care inbox: list, assign, close, escalate, reopen, note"
    )
    sub = inbox.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list", help="items, highest priority first", parents=[as_user])
    listing.add_argument("--state", choices=list(STATE_CHOICES), default="open")
    listing.add_argument("--brand", action="append", help="only this brand (repeatable)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="a JSON array of items")
    acts(listing, _list)

    assign = sub.add_parser("assign", help="give items to a teammate", parents=[as_user])
    assign.add_argument("ids", type=int, nargs="+", metavar="ID")
    assign.add_argument("user", metavar="USER")
    acts(assign, _assign)

    close = sub.add_parser("close", help="mark items answered or dismissed", parents=[as_user])
    close.add_argument("ids", type=int, nargs="+", metavar="ID")
    close.add_argument("--reason", choices=CLOSE_REASONS, required=True,
                       help="answered, or dismissed (irrelevant) or spam")  # fmt: skip
    close.add_argument("--reply-url", help="the link of the reply posted (answered)")
    close.add_argument("--note", help="a note to add")
    acts(close, _close)

    for name, text, act in (
        ("escalate", "hand items to management", _escalate),
        ("reopen", "open closed items again", _reopen),
    ):
        parser = sub.add_parser(name, help=text, parents=[as_user])
        parser.add_argument("ids", type=int, nargs="+", metavar="ID")
        acts(parser, act)

    stats = sub.add_parser(
        "stats", help="response times of one ISO week, by brand, channel, topic and agent",
        parents=[as_user],
    )  # fmt: skip
    stats.add_argument("--week", help="ISO week such as 2026-W49 (default: this week)")
    stats.add_argument("--json", action="store_true", help="a JSON array of rows")
    acts(stats, _stats)

    test_rule = sub.add_parser(
        "test-rule", help="which escalation rules a sample text meets, and why"
    )
    test_rule.add_argument("text")
    test_rule.add_argument(
        "--engagement", type=int, default=0, help="interactions the post has (min_engagement)"
    )
    test_rule.add_argument(
        "--followers",
        type=int,
        help="followers its author has (min_followers; unknown if not given, as on platforms "
        "that do not say)",
    )
    test_rule.set_defaults(func=_test_rule)

    note = sub.add_parser("note", help="add a note to an item", parents=[as_user])
    note.add_argument("id", type=int)
    note.add_argument("text")
    acts(note, _note)
