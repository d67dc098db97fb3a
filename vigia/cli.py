"""The `vigia` command: run, collect, dashboard, export, alerts, check-config, demo."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from vigia.config import (
    DEFAULT_PUBLIC_URL,
    ConfigError,
    Settings,
    SourceConfig,
    load_settings,
)
from vigia.storage import DatabaseError

if TYPE_CHECKING:
    from vigia.pipeline import Runtime


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config))


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from vigia.storage.engine import masked

    print(
        f"{args.config}: OK — {len(settings.brands)} brands, {len(settings.sources)} sources, "
        f"database {masked(settings.resolved_database_url)}"
    )
    for note in settings.deprecations:
        print(f"{args.config}: note: {note}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from vigia.pipeline import Runtime
    from vigia.scheduler import run_until_stopped

    rt = Runtime.build(_settings(args))
    try:
        run_until_stopped(rt)
    finally:
        rt.close()
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from vigia.pipeline import Runtime, poll_all

    settings = _settings(args)
    rt = Runtime.build(settings)
    try:
        if args.dry_run:
            for name in args.source or [s.name for s in settings.sources if s.enabled]:
                _print_dry_run(rt, settings.source(name))
            return 0
        reports = poll_all(rt, args.source, force=True)
    finally:
        rt.close()
    for report in reports:
        print(report.summary())
    return 1 if any(r.error for r in reports) else 0


def _print_dry_run(rt: Runtime, source: SourceConfig) -> None:
    from collectors.base import CollectorError
    from vigia.pipeline import dry_run

    try:
        analysed, state = dry_run(rt, source)
    except CollectorError as exc:
        print(f"{source.name}: ERROR {type(exc).__name__}: {exc}")
        return
    print(f"{source.name}: would store {len(analysed)} items ({state.skipped} skipped)")
    for item in analysed:
        m = item.mention
        score = f"{item.sentiment.compound:+.2f}" if item.sentiment else "  —  "
        topics = ",".join(item.topics) or "-"
        text = " ".join(m.text.split())[:90]
        print(
            f"  {m.published:%Y-%m-%d %H:%M} {item.brand or '(no brand)':<12} {item.language or '??'} "
            f"{score} {item.label or '':<8} [{topics}] {text}\n      {m.url}"
        )


def cmd_export(args: argparse.Namespace) -> int:
    from timeutil import utc_now
    from vigia.exports import export_week, previous_week
    from vigia.storage import connect

    settings = _settings(args)
    week = args.week or previous_week(utc_now(), ZoneInfo(settings.timezone))
    folder = Path(args.out) if args.out else settings.resolve(settings.export.folder)
    engine = connect(settings.resolved_database_url)
    for path in export_week(engine, folder, week, settings.timezone):
        print(path)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from vigia.dashboard_launcher import launch_dashboard
    from vigia.storage import connect

    settings = _settings(args)
    connect(settings.resolved_database_url).dispose()  # migrated before any page reads it
    dashboard = settings.dashboard
    # Left at its default, the public URL follows --port; any other (a proxy's) stays.
    public_url = None if dashboard.public_url == DEFAULT_PUBLIC_URL else dashboard.public_url
    return launch_dashboard(
        Path(args.config),
        port=args.port,
        browser=not args.no_browser,
        address=dashboard.address,
        public_url=public_url,
    ).wait()


def cmd_demo(args: argparse.Namespace) -> int:
    from vigia.demo.runner import run_demo

    return run_demo(port=args.port, browser=not args.no_browser, data_dir=Path(args.data))


def cmd_alerts(args: argparse.Namespace) -> int:
    from timeutil import utc, utc_now
    from vigia.alerts.policy import AlertState
    from vigia.storage import connect
    from vigia.storage.alerts import (
        list_alerts,
        resend_delivery,
        set_alert_state,
        uncertain_deliveries,
    )

    settings = _settings(args)
    engine = connect(settings.resolved_database_url)
    zone = ZoneInfo(settings.timezone)
    try:
        if args.action == "list":
            with engine.connect() as conn:
                rows = list_alerts(conn, states=None if args.all else ("open", "acknowledged"))
                uncertain = uncertain_deliveries(conn, [a.id for a in rows])
            if not rows:
                print("no alerts" if args.all else "no open alerts")
            for a in rows:
                opened = utc(a.opened_at).astimezone(zone)
                unsure = [d for d in uncertain if d.alert_id == a.id]
                print(
                    f"{a.id:>5}  {a.state.value:<12} {a.severity:<8} {a.rule:<17} "
                    f"{a.brand or '-':<14} {opened:%Y-%m-%d %H:%M}  {a.subject}"
                    + (f"  [{len(unsure)} uncertain]" if unsure else "")
                )
                for d in unsure:
                    # Sent, maybe received, never confirmed by the mail server: a person decides.
                    when = utc(d.uncertain_at or d.planned_at).astimezone(zone)
                    print(
                        f"       uncertain delivery {d.id}: {d.channel} to {d.recipient}, "
                        f"{when:%Y-%m-%d %H:%M}; send again: vigia alerts resend {d.id}"
                    )
            return 0
        if args.action == "resend":
            with engine.begin() as conn:
                try:
                    delivery = resend_delivery(conn, args.id, utc_now())
                except (KeyError, ValueError) as exc:
                    print(f"error: {exc.args[0]}", file=sys.stderr)
                    return 1
            when = (
                "with the next daily digest" if delivery.channel == "digest" else "at the next poll"
            )
            print(
                f"delivery {delivery.id} (alert {delivery.alert_id}, {delivery.channel} to "
                f"{delivery.recipient}): due again, sent {when}"
            )
            return 0
        state = AlertState.ACKNOWLEDGED if args.action == "ack" else AlertState.RESOLVED
        with engine.begin() as conn:
            try:
                row = set_alert_state(conn, args.id, state, utc_now())
            except KeyError:
                print(f"error: no alert with id {args.id}", file=sys.stderr)
                return 1
        print(f"alert {row.id} ({row.rule}, {row.subject}): {row.state.value}")
        return 0
    finally:
        engine.dispose()


def cmd_db(args: argparse.Namespace) -> int:
    from vigia.storage import database_errors, migrate, open_engine
    from vigia.storage.engine import masked
    from vigia.storage.migrate import current, head

    url = _settings(args).resolved_database_url
    if args.action == "upgrade":
        engine, done = migrate(url)
        engine.dispose()
        print(f"database {masked(url)}: {done.describe()}")
        return 0
    engine = open_engine(url)
    try:
        with database_errors(url), engine.connect() as conn:
            revision = current(conn)
    finally:
        engine.dispose()
    latest = head()
    state = "up to date" if revision == latest else "run `vigia db upgrade`"
    print(
        f"database {masked(url)}: revision {revision or 'none (empty)'}, latest {latest}: {state}"
    )
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    import hashlib

    from vigia.storage import connect
    from vigia.storage.retention import forget_author

    if not args.author.strip():
        print("error: --author needs a name", file=sys.stderr)
        return 2
    engine = connect(_settings(args).resolved_database_url)
    try:
        report = forget_author(engine, args.author, args.source)
    finally:
        engine.dispose()
    # No audit trail yet: one line that says an erasure happened, without the name in clear
    # (hashed as matched, case-folded, so two spellings of one erasure give one hash).
    digest = hashlib.sha256(args.author.casefold().encode("utf-8")).hexdigest()[:12]
    logging.getLogger("vigia.forget").warning(
        "erased author sha256:%s%s: %d mentions, %d engagement snapshots, %d alerts' evidence",
        digest,
        f" on {args.source}" if args.source else "",
        report.mentions_deleted,
        report.snapshots_deleted,
        report.alerts_trimmed,
    )
    for source, count in report.per_source.items():
        print(f"{source}: {count} mentions erased")
    if not report.per_source:
        print("no mentions by this author" + (f" on {args.source}" if args.source else ""))
    print(f"alerts whose evidence quoted them: {report.alerts_trimmed}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigia", description=__doc__)
    parser.add_argument(
        "-c", "--config", default=os.environ.get("VIGIA_CONFIG", "config.yaml"),
        help="configuration file (default: ./config.yaml or $VIGIA_CONFIG)",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("run", help="poll every source on its schedule until stopped").set_defaults(
        func=cmd_run
    )
    collect = commands.add_parser("collect", help="poll sources now")
    collect.add_argument("--once", action="store_true", help="poll each source once (the default)")
    collect.add_argument("--source", action="append", help="only this source (repeatable)")
    collect.add_argument("--dry-run", action="store_true", help="print what would be stored")
    collect.set_defaults(func=cmd_collect)

    dashboard = commands.add_parser("dashboard", help="open the Streamlit dashboard")
    dashboard.add_argument("--port", type=int, default=8501)
    dashboard.add_argument("--no-browser", action="store_true")
    dashboard.set_defaults(func=cmd_dashboard)

    export = commands.add_parser("export", help="write the weekly CSV export")
    export.add_argument("--week", help="ISO week such as 2026-W47 (default: last week)")
    export.add_argument("--out", help="folder (default: export.folder of the config)")
    export.set_defaults(func=cmd_export)

    alerts = commands.add_parser(
        "alerts", help="list, acknowledge or resolve alerts; resend an uncertain delivery"
    )
    alert_actions = alerts.add_subparsers(dest="action", required=True)
    listing = alert_actions.add_parser("list", help="open and acknowledged alerts")
    listing.add_argument("--all", action="store_true", help="resolved ones too")
    for action, text in (("ack", "acknowledge an alert"), ("resolve", "resolve an alert")):
        alert_actions.add_parser(action, help=text).add_argument("id", type=int)
    alert_actions.add_parser(
        "resend",
        help="send an uncertain delivery again (the server may have it: a second copy may arrive)",
    ).add_argument("id", type=int, metavar="DELIVERY_ID")
    alerts.set_defaults(func=cmd_alerts)

    db = commands.add_parser("db", help="the database schema: current revision, upgrade")
    db_actions = db.add_subparsers(dest="action", required=True)
    db_actions.add_parser("current", help="the database's schema revision and the latest")
    db_actions.add_parser("upgrade", help="migrate the database to the latest schema")
    db.set_defaults(func=cmd_db)

    forget = commands.add_parser(
        "forget", help="erase an author's mentions and their quotes in alerts (right to erasure)"
    )
    forget.add_argument("--author", required=True, help="exact name, any case")
    forget.add_argument("--source", help="only on this source")
    forget.set_defaults(func=cmd_forget)

    commands.add_parser("check-config", help="validate the configuration").set_defaults(
        func=cmd_check_config
    )
    demo = commands.add_parser("demo", help="offline demo: sample feeds, pipeline and dashboard")
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--no-browser", action="store_true")
    demo.add_argument("--data", default="data/demo", help="folder for the demo's database")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # One line per tick of every source would drown the poll summaries.
    for chatty in ("httpx", "alembic", "apscheduler.executors.default"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # A tick that finds its source's poll still running is skipped, by design: no warning each time.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
