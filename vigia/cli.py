"""The `vigia` command: run, collect, dashboard, export, report, alerts, inbox, forget, users,
audit, db, check-config, demo."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from timeutil import utc_now
from vigia.access.roles import REQUIRED, Actor, Permission, Role
from vigia.config import (
    DEFAULT_PUBLIC_URL,
    ConfigError,
    Settings,
    SourceConfig,
    load_settings,
)
from vigia.inbox.commands import add_inbox
from vigia.storage import DatabaseError

if TYPE_CHECKING:
    import httpx
    from sqlalchemy import Engine

    from vigia.analyse import Analyser

    # A subcommand that changes state (or reads the audit trail), run by `cmd_as_actor`.
    Act = Callable[[argparse.Namespace, Engine, Actor, Settings], int]

AS_HELP = (
    "act as this local account: it must exist and be active, and its role is checked. "
    "Without --as the shell is trusted, since whoever runs vigia can read the configuration "
    "and the database anyway: you act as shell:<login> with the admin role"
)
PASSWORD_STDIN_HELP = "read the password from the first line of standard input (for scripts)"
# A change refused: an unknown account, alert or delivery, a role that may not, bad input.
_REFUSALS = (KeyError, PermissionError, ValueError)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(Path(args.config))


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from vigia.storage.engine import masked

    notes = [*settings.deprecations, *_environment_notes(settings)]
    print(
        f"{args.config}: OK — {len(settings.brands)} brands, {len(settings.sources)} sources, "
        f"database {masked(settings.resolved_database_url)}"
    )
    for warning in settings.warnings:
        print(f"{args.config}: warning: {warning}")
    for note in notes:
        print(f"{args.config}: note: {note}")
    return 0


def _environment_notes(settings: Settings) -> list[str]:
    """What the environment lacks for the features configured, naming variables, never their
    values (a VIGIA_SECRET_KEY too short is already a configuration error)."""
    from vigia.access.links import MIN_SECRET_LENGTH, SECRET_ENV, secret_key
    from vigia.access.sso_secrets import missing_variables

    notes = []
    if secret_key() is None and (settings.alerts.recipients or settings.alerts.managers):
        notes.append(
            f"alert e-mails carry no acknowledge link; set {SECRET_ENV} "
            f"({MIN_SECRET_LENGTH}+ characters) to add one"
        )
    missing = missing_variables(settings.auth.sso) if settings.auth.sso else []
    if missing:
        notes.append(f"auth.sso is configured but not set in the environment: {', '.join(missing)}")
    return notes


def cmd_run(args: argparse.Namespace) -> int:
    from vigia.pipeline import Runtime
    from vigia.scheduler import run_until_stopped

    settings = _settings(args)
    for warning in settings.warnings:
        logging.getLogger("vigia.config").warning("%s: %s", args.config, warning)
    rt = Runtime.build(settings)
    try:
        run_until_stopped(rt)
    finally:
        rt.close()
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from vigia.pipeline import Runtime, poll_all

    settings = _settings(args)
    if args.dry_run:
        return _dry_run_all(settings, args.source)
    rt = Runtime.build(settings)
    try:
        reports = poll_all(rt, args.source, force=True)
    finally:
        rt.close()
    for report in reports:
        print(report.summary())
    return 1 if any(r.error for r in reports) else 0


def _dry_run_all(settings: Settings, names: Sequence[str] | None) -> int:
    """Print what each source (or the named ones) would store, touching no database; 1 when
    every source failed."""
    from vigia.analyse import Analyser
    from vigia.pipeline import http_client

    sources = (
        [settings.source(n) for n in names] if names else [s for s in settings.sources if s.enabled]
    )
    analyser = Analyser(settings)
    with http_client(settings) as client:
        failed = sum(not _print_dry_run(source, client, analyser) for source in sources)
    return 1 if sources and failed == len(sources) else 0


def _print_dry_run(source: SourceConfig, client: httpx.Client, analyser: Analyser) -> bool:
    """One source's dry run on stdout; False if it failed."""
    from collectors.base import CollectorError
    from vigia.pipeline import dry_run

    try:
        analysed, state = dry_run(source, client, analyser)
    except CollectorError as exc:
        print(f"{source.name}: ERROR {type(exc).__name__}: {exc}")
        return False
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
    return True


def cmd_export(args: argparse.Namespace) -> int:
    from timeutil import utc_now
    from vigia.exports import export_week, previous_week
    from vigia.storage import connect

    settings = _settings(args)
    week = args.week or previous_week(utc_now(), settings.zone)
    folder = Path(args.out) if args.out else settings.resolve(settings.export.folder)
    engine = connect(settings.resolved_database_url)
    written = export_week(
        engine, folder, week, settings.timezone, settings.inbox,
        language=settings.alerts.language, delimiter=settings.export.delimiter,
    )  # fmt: skip
    for path in written:
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from vigia.exports import previous_week
    from vigia.report.weekly import ReportError, produce
    from vigia.storage import connect

    settings = _settings(args)
    now = utc_now()
    week = args.week or previous_week(now, settings.zone)
    folder = Path(args.out) if args.out else settings.resolve(settings.export.folder)
    engine = connect(settings.resolved_database_url)
    try:
        produced = produce(engine, settings, week, folder, now, send=args.send)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(produced.path)
    for recipient, result in produced.sent:
        print(f"{recipient}: {result.outcome}" + (f" ({result.error})" if result.error else ""))
    return 1 if produced.failed else 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from vigia.dashboard_launcher import launch_dashboard, run_until_exit
    from vigia.inbox.replies import seed
    from vigia.storage import connect

    settings = _settings(args)
    engine = connect(settings.resolved_database_url)  # migrated before any page reads it
    try:
        seed(engine, settings, utc_now())  # config.yaml's prepared replies not stored yet
    finally:
        engine.dispose()
    dashboard = settings.dashboard
    # Left at its default, the public URL follows --port; any other (a proxy's) stays.
    public_url = None if dashboard.public_url == DEFAULT_PUBLIC_URL else dashboard.public_url
    process = launch_dashboard(
        Path(args.config),
        port=args.port,
        browser=not args.no_browser,
        address=dashboard.address,
        public_url=public_url,
        sso=settings.auth.sso,
    )
    return run_until_exit(process)  # SIGTERM/SIGINT reach Streamlit, which is waited for


def cmd_demo(args: argparse.Namespace) -> int:
    from vigia.demo.runner import run_demo

    return run_demo(port=args.port, browser=not args.no_browser, data_dir=Path(args.data))


def cmd_alerts_list(args: argparse.Namespace) -> int:
    from timeutil import utc
    from vigia.storage import connect
    from vigia.storage.alerts import list_alerts, uncertain_deliveries

    settings = _settings(args)
    engine = connect(settings.resolved_database_url)
    zone = settings.zone
    try:
        with engine.connect() as conn:
            rows = list_alerts(conn, states=None if args.all else ("open", "acknowledged"))
            uncertain = uncertain_deliveries(conn, [a.id for a in rows])
    finally:
        engine.dispose()
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


def cmd_as_actor(args: argparse.Namespace) -> int:
    """Run the subcommand's `act` as the --as account, or as the trusted shell; a refusal is
    one `error:` line on stderr and exit status 1."""
    from vigia.storage import connect

    settings = _settings(args)
    engine = connect(settings.resolved_database_url)
    try:
        actor = _actor(engine, args.as_user)
        return args.act(args, engine, actor, settings)
    except _REFUSALS as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()


def _actor(engine: Engine, as_user: str | None) -> Actor:
    """Who a command acts as (see AS_HELP); KeyError or PermissionError for an unusable --as."""
    from vigia.storage.users import get_user

    if as_user is None:
        return Actor(f"shell:{_login()}", Role.ADMIN, "cli")
    with engine.connect() as conn:
        user = get_user(conn, as_user)
    if user is None:
        raise KeyError(f"--as: no user called {as_user!r}")
    if not user.active:
        raise PermissionError(f"--as: user {user.name} is disabled")
    return Actor(user.name, Role(user.role), "cli")


def _login() -> str:
    try:
        return getpass.getuser()
    except OSError:  # a container's user id with no name in the environment or /etc/passwd
        return "unknown"


# The state each `vigia alerts` action moves an alert to.
_ALERT_STATES = {"ack": "acknowledged", "resolve": "resolved", "reopen": "open"}


def _alert_state(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    from vigia.access.actions import change_alert_state

    row = change_alert_state(engine, actor, args.id, _ALERT_STATES[args.action], utc_now())
    print(f"alert {row.id} ({row.rule}, {row.subject}): {row.state.value}")
    return 0


def _alert_resend(
    args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings
) -> int:
    from vigia.access.actions import resend

    delivery = resend(engine, actor, args.id, utc_now())
    when = "with the next daily digest" if delivery.channel == "digest" else "at the next poll"
    print(
        f"delivery {delivery.id} (alert {delivery.alert_id}, {delivery.channel} to "
        f"{delivery.recipient}): due again, sent {when}"
    )
    return 0


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


def _forget(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    from vigia.access.actions import author_digest, forget

    report = forget(engine, actor, args.author, args.source, utc_now())
    where = f" on {args.source}" if args.source else ""
    # The name is not logged: the digest says which erasure, as in the audit trail.
    logging.getLogger("vigia.forget").warning(
        "erased author %s%s: %d mentions, %d engagement snapshots, %d alerts' evidence "
        "(recorded in the audit trail)",
        author_digest(args.author),
        where,
        report.mentions_deleted,
        report.snapshots_deleted,
        report.alerts_trimmed,
    )
    for source, count in report.per_source.items():
        print(f"{source}: {count} mentions erased")
    if not report.per_source:
        print(f"no mentions by this author{where}")
    print(f"alerts whose evidence quoted them: {report.alerts_trimmed}")
    return 0


def _new_password(from_stdin: bool) -> str:
    """The first line of stdin, or a password typed twice at a hidden prompt."""
    from vigia.access.passwords import check_strength

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    try:
        password = getpass.getpass("new password: ")
        check_strength(password)
        if getpass.getpass("again: ") != password:
            raise ValueError("the two passwords differ")
    except EOFError:
        raise ValueError("no password given") from None
    return password


def _users_add(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    from vigia.access.accounts import add_user

    password = _new_password(args.password_stdin)
    user = add_user(engine, actor, args.name, args.role, password, utc_now(), email=args.email)
    print(f"user {user.name} added ({user.role})")
    return 0


def _users_list(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    from vigia.access.accounts import list_users

    users = list_users(engine, actor)
    if not users:
        print("no users yet: vigia users add NAME --role admin")
        return 0
    rows = [("name", "role", "e-mail", "status", "created")] + [
        (
            u.name,
            u.role,
            u.email or "-",
            "active" if u.active else "disabled",
            f"{u.created_at.astimezone(settings.zone):%Y-%m-%d %H:%M}",
        )
        for u in users
    ]
    print("\n".join(_table(rows)))
    return 0


def _users_disable(
    args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings
) -> int:
    from vigia.access.accounts import disable_user

    user = disable_user(engine, actor, args.name, utc_now())
    print(f"user {user.name} disabled: no sign-in, open dashboard sessions end")
    return 0


def _users_enable(
    args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings
) -> int:
    from vigia.access.accounts import enable_user

    user = enable_user(engine, actor, args.name, utc_now())
    print(f"user {user.name} enabled")
    return 0


def _users_role(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    from vigia.access.accounts import set_role

    user = set_role(engine, actor, args.name, args.role, utc_now())
    print(f"user {user.name}: role {user.role}")
    return 0


def _users_passwd(
    args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings
) -> int:
    from vigia.access.accounts import set_password

    password = _new_password(args.password_stdin)
    user = set_password(engine, actor, args.name, password, utc_now())
    print(f"user {user.name}: password changed, open dashboard sessions end")
    return 0


def _audit(args: argparse.Namespace, engine: Engine, actor: Actor, settings: Settings) -> int:
    from vigia.storage.audit import entries

    actor.require(Permission.READ_AUDIT)
    since = args.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=settings.zone)
    with engine.connect() as conn:
        found = entries(conn, since, args.limit)[::-1]  # newest first: the last N, oldest first
    if args.json:
        print(json.dumps([{**asdict(e), "at": e.at.isoformat()} for e in found], indent=2))
    elif not found:
        print("no audit entries")
    else:
        rows = [
            (f"{e.at.astimezone(settings.zone):%Y-%m-%d %H:%M:%S}", e.actor, e.via, e.action, e.target,
             _changes(e.before, e.after))
            for e in found
        ]  # fmt: skip
        print("\n".join(_table(rows)))
    return 0


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """`key: old → new` for each changed key, `key: value` for the others."""
    parts = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if key not in before or old == new:
            parts.append(f"{key}: {_shown(new)}")
        else:
            parts.append(f"{key}: {_shown(old)} → {_shown(new)}")
    return ", ".join(parts)


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines of left-aligned columns, two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(
            [*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]
        ).rstrip()
        for row in rows
    ]


def _since(text: str) -> datetime:
    """--since: YYYY-MM-DD or an ISO date and time; without an offset, in settings.timezone."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected YYYY-MM-DD or an ISO date and time, got {text!r}"
        ) from None


def _positive(text: str) -> int:
    """--limit: a whole number above 0."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return int(text)


def _name(text: str) -> str:
    """--author: not blank (a blank name matches the quotes of anonymous mentions in alerts)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a name")
    return text


def _acts(parser: argparse.ArgumentParser, act: Act) -> None:
    parser.set_defaults(func=cmd_as_actor, act=act)


def _add_alerts(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], as_user: argparse.ArgumentParser
) -> None:
    alerts = commands.add_parser(
        "alerts", help="list, acknowledge, resolve or reopen alerts; resend an uncertain delivery"
    )
    actions = alerts.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="open and acknowledged alerts")
    listing.add_argument("--all", action="store_true", help="resolved ones too")
    listing.set_defaults(func=cmd_alerts_list)
    for action, text in (
        ("ack", "acknowledge an alert"),
        ("resolve", "resolve an alert"),
        ("reopen", "reopen an acknowledged or resolved alert"),
    ):
        move = actions.add_parser(action, help=text, description=text, parents=[as_user])
        move.add_argument("id", type=int)
        _acts(move, _alert_state)
    resend = actions.add_parser(
        "resend",
        help="send an uncertain delivery again (the server may have it: a second copy may arrive)",
        parents=[as_user],
    )
    resend.add_argument("id", type=int, metavar="DELIVERY_ID")
    _acts(resend, _alert_resend)


def _roles_text() -> str:
    """What each role may do, from roles.REQUIRED."""
    may = {
        role: ", ".join(p.value for p, least in REQUIRED.items() if least is role) for role in Role
    }
    return "; ".join(f"{role.value}: {may[role]}" for role in Role)


def _add_users(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], as_user: argparse.ArgumentParser
) -> None:
    users = commands.add_parser(
        "users",
        help="local dashboard accounts: add, list, disable, enable, role, passwd",
        description="Local accounts for the dashboard; every change is in the audit trail. "
        f"Roles, each with the rights of those before it: {_roles_text()}.",
    )
    actions = users.add_subparsers(dest="action", required=True)
    roles = [r.value for r in Role]
    add = actions.add_parser("add", help="add an account", parents=[as_user])
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--email", help="their e-mail, for single sign-on or proxy sign-in")
    add.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN_HELP)
    _acts(add, _users_add)
    _acts(actions.add_parser("list", help="every account", parents=[as_user]), _users_list)
    for action, text, act in (
        ("disable", "disable an account: no sign-in, open sessions end", _users_disable),
        ("enable", "enable a disabled account", _users_enable),
    ):
        switch = actions.add_parser(action, help=text, parents=[as_user])
        switch.add_argument("name")
        _acts(switch, act)
    role = actions.add_parser("role", help="change an account's role", parents=[as_user])
    role.add_argument("name")
    role.add_argument("role", choices=roles)
    _acts(role, _users_role)
    passwd = actions.add_parser(
        "passwd", help="set an account's password (open sessions end)", parents=[as_user]
    )
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN_HELP)
    _acts(passwd, _users_passwd)


def _add_audit(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], as_user: argparse.ArgumentParser
) -> None:
    audit = commands.add_parser(
        "audit",
        help="the audit trail: who changed what, when, from where",
        description="The audit trail, oldest first: one line per change with its local time, "
        "actor, where from (cli, dashboard, email-link), action, target, and each key's value "
        "(old → new when it changed). Without --as the shell is trusted; with --as the account "
        "needs the manager role or higher.",
        parents=[as_user],
    )
    audit.add_argument(
        "--since",
        type=_since,
        metavar="DATE",
        help="from this date (YYYY-MM-DD, local start of day) or ISO date and time "
        "(local unless it has an offset)",
    )
    audit.add_argument("--limit", type=_positive, metavar="N", help="only the last N entries")
    audit.add_argument(
        "--json", action="store_true", help="a JSON array of entries, times in UTC ISO 8601"
    )
    _acts(audit, _audit)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vigia", description=__doc__)
    _add_common(parser, config=os.environ.get("VIGIA_CONFIG", "config.yaml"), verbose=False)
    commands = parser.add_subparsers(dest="command", required=True)
    as_user = argparse.ArgumentParser(add_help=False)
    as_user.add_argument("--as", dest="as_user", metavar="USER", help=AS_HELP)

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

    report = commands.add_parser("report", help="write the weekly manager report (HTML)")
    report.add_argument("--week", help="ISO week such as 2026-W49 (default: last week)")
    report.add_argument("--out", help="folder (default: export.folder of the config)")
    report.add_argument("--send", action="store_true", help="e-mail it to alerts.managers")
    report.set_defaults(func=cmd_report)

    _add_alerts(commands, as_user)

    db = commands.add_parser("db", help="the database schema: current revision, upgrade")
    db_actions = db.add_subparsers(dest="action", required=True)
    db_actions.add_parser("current", help="the database's schema revision and the latest")
    db_actions.add_parser("upgrade", help="migrate the database to the latest schema")
    db.set_defaults(func=cmd_db)

    forget = commands.add_parser(
        "forget",
        help="erase an author's mentions and their quotes in alerts (right to erasure)",
        parents=[as_user],
    )
    forget.add_argument("--author", required=True, type=_name, help="exact name, any case")
    forget.add_argument("--source", help="only on this source")
    _acts(forget, _forget)
    _add_users(commands, as_user)
    _add_audit(commands, as_user)
    add_inbox(commands, as_user, _acts)

    commands.add_parser("check-config", help="validate the configuration").set_defaults(
        func=cmd_check_config
    )
    demo = commands.add_parser("demo", help="offline demo: sample feeds, pipeline and dashboard")
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--no-browser", action="store_true")
    demo.add_argument("--data", default="data/demo", help="folder for the demo's database")
    demo.set_defaults(func=cmd_demo)
    _share_common(parser)
    return parser


def _add_common(parser: argparse.ArgumentParser, config: Any, verbose: Any) -> None:
    """-c/--config and -v/--verbose, accepted before or after any subcommand."""
    parser.add_argument(
        "-c", "--config", default=config,
        help="configuration file (default: ./config.yaml or $VIGIA_CONFIG)",
    )  # fmt: skip
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=verbose, help="log debug details"
    )


def _share_common(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand, at any depth, the common options. Their default is SUPPRESS, so
    a value given after the subcommand wins and the top-level default stays otherwise."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_common(sub, config=argparse.SUPPRESS, verbose=argparse.SUPPRESS)
                _share_common(sub)


class JobChatterToDebug(logging.Filter):
    """APScheduler's executors (every pool: "default", "claims") log each job run at INFO,
    "Running job" and "executed successfully": hundreds of lines a day per source, burying the
    one line per poll. They are demoted to DEBUG, and shown only with -v."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("apscheduler.executors.") and record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(JobChatterToDebug())
    for chatty in ("httpx", "alembic"):
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
