"""`vigia demo`: sample feeds on a local server, the real pipeline and scheduler, the dashboard.

With no network: the demo serves two weeks of sample mentions of the fictional retailer Vellora
(and its competitor Korvo) from a local HTTP server in each platform's own payload shape, writes a
configuration pointing the real collectors at it, polls every few seconds, sends alert e-mails to
a local SMTP server that saves them as .eml files, and opens the dashboard. Each run starts
afresh: the sample timeline is relative to the start, so an old demo database would not fit it.
Each run also makes a secret key for the e-mails' acknowledge links (unless VIGIA_SECRET_KEY is
set) and a manager account `demo` with a new password, printed in the terminal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from collectors import REGISTRY
from vigia.access.accounts import add_user, enable_user, set_password, set_role
from vigia.access.links import SECRET_ENV
from vigia.access.roles import Actor, Role
from vigia.config import Settings, load_settings
from vigia.demo.feeds import RSS_PATH, DemoFeeds
from vigia.demo.payloads import APP_ID, YOUTUBE_CHANNEL, mastodon_id
from vigia.demo.story import THREAD_ROOT, Timeline, build_timeline
from vigia.demo.team import AGENTS, demo_agents, work_inbox
from vigia.pipeline import Runtime, poll_all
from vigia.storage.users import get_user

DATABASE = "vigia-demo.db"
RECIPIENTS = ["comunidad@vellora.example"]
MANAGERS = ["direccion@vellora.example"]
DEMO_USER = "demo"
SETUP = Actor("demo-setup", Role.ADMIN, "cli")
# The repository's config.yaml carries the topic taxonomy users extend and the care inbox's
# escalation rules and prepared replies; the demo uses them as they are.
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


class Inbox:
    """An SMTP handler (aiosmtpd) that saves each message it receives as an .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.received: list[Path] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        content: bytes = envelope.original_content or envelope.content
        with self._lock:
            path = (
                self.folder / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{len(self.received) + 1:03d}.eml"
            )
            path.write_bytes(content)
            self.received.append(path)
        subject = str(make_header(decode_header(message_from_bytes(content)["Subject"] or "")))
        print(f"\n  ✉  alert e-mail received: {subject}\n     saved as {path}\n", flush=True)
        return "250 Message accepted for delivery"


@contextmanager
def smtp_sink(folder: Path) -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server on a free port whose messages land in `folder`; yields (inbox, port)."""
    folder.mkdir(parents=True, exist_ok=True)
    inbox = Inbox(folder)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, loop=asyncio.new_event_loop())
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (for now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_config(
    feeds: DemoFeeds,
    timeline: Timeline,
    smtp_port: int,
    kinds: Collection[str],
    dashboard_port: int = 8501,
) -> dict[str, Any]:
    """The demo's configuration: two brands, one source per available kind, local SMTP."""
    base = feeds.url
    candidates: list[dict[str, Any]] = [
        {
            "name": "prensa",
            "type": "rss",
            "url": base + RSS_PATH,
            "interval": "15s",
            "language": "es",
        },
        {
            "name": "google-news",
            "type": "google_news",
            "query": "Vellora OR Korvo",
            "language": "es",
            "country": "ES",
            "base_url": base,
            "interval": "20s",
        },
        {
            "name": "mastodon-compras",
            "type": "mastodon",
            "instance": base,
            "hashtag": "compras",
            "max_pages": 50,
            "interval": "10s",
        },
        {
            "name": "reddit-busqueda",
            "type": "reddit",
            "query": "Vellora OR Korvo",
            "base_url": base,
            "max_pages": 10,
            "interval": "15s",
            "watch_threads": 0,  # the sample feeds serve whole conversations for Mastodon only
        },
        {
            "name": "bluesky-busqueda",
            "type": "bluesky",
            "query": "vellora OR korvo",
            "service": base,
            "max_pages": 20,
            "interval": "15s",
            "watch_threads": 0,
        },
        {
            "name": "hackernews",
            "type": "hackernews",
            "query": "vellora korvo",
            "base_url": base + "/api/v1",
            "interval": "20s",
        },
        {
            "name": "stackoverflow",
            "type": "stackexchange",
            "q": "vellora",
            "first_days": 15,
            "max_pages": 5,
            "base_url": base + "/2.3",
            "interval": "30s",
        },
        {
            "name": "appstore-vellora",
            "type": "appstore",
            "app_id": int(APP_ID),
            "country": "es",
            "brand": "Vellora",
            "match": "always",
            "base_url": base,
            "interval": "30s",
        },
        {
            "name": "youtube-vellora",
            "type": "youtube",
            "channel_id": YOUTUBE_CHANNEL,
            "brand": "Vellora",
            "match": "always",
            "base_url": base,
            "interval": "30s",
        },
    ]
    root = timeline.by_key.get(THREAD_ROOT)
    if root is not None and root.kind == "mastodon":
        # The thread everyone is talking about is watched, so its replies and counts stay fresh.
        candidates[2]["threads"] = [mastodon_id(root)]
    sources = [s for s in candidates if s["type"] in kinds]
    data: dict[str, Any] = {
        "database_url": f"sqlite:///{DATABASE}",
        "timezone": "Europe/Madrid",
        "brands": [
            {
                "name": "Vellora",
                "keywords": ["vellora", "vellora.es"],
                "aliases": ["@vellora", "@vellora_ayuda", "#vellora"],
            },
            {"name": "Korvo", "keywords": ["korvo"], "aliases": ["@korvo"]},
        ],
        "sources": sources,
        "alerts": {
            "sensitivity": "medium",
            "recipients": RECIPIENTS,
            "managers": MANAGERS,
            "language": "es",
        },
        # The alert e-mails link here: the dashboard the demo starts, on this machine only.
        "dashboard": {
            "address": "127.0.0.1",
            "public_url": f"http://localhost:{dashboard_port}",
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "sender": "Vigía demo <vigia@localhost>",
            "timeout": 5,
        },
        "export": {"folder": "exports"},
        "http": {"timeout": 5, "retries": 1, "backoff_base": 0.2, "min_interval_per_host": 0},
        "analysis": {"languages": ["es", "en"]},
    }
    for section in ("topics", "inbox"):
        if found := repo_section(section):
            data[section] = found
    return data


def repo_section(key: str) -> dict[str, Any]:
    """A section of the repository's config.yaml (empty when it is not beside the code)."""
    try:
        return yaml.safe_load(REPO_CONFIG.read_text("utf-8")).get(key) or {}
    except (OSError, AttributeError, yaml.YAMLError):
        return {}


def write_config(data_dir: Path, data: dict[str, Any]) -> Path:
    path = data_dir / "config.yaml"
    header = (
        "# Written by `vigia demo` for its local sample server; rewritten on every demo run.\n"
        "# The sources point at http://127.0.0.1, which only answers while the demo runs.\n"
    )
    path.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def start_fresh(data_dir: Path) -> bool:
    """Remove an earlier demo's database, inbox and exports; True when there was one."""
    old = [data_dir / name for name in (DATABASE, DATABASE + "-wal", DATABASE + "-shm")]
    found = any(p.exists() for p in old)
    for path in old:
        path.unlink(missing_ok=True)
    for folder in ("inbox", "exports"):
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    return found


@contextmanager
def demo_secret_key() -> Iterator[None]:
    """A fresh VIGIA_SECRET_KEY in the environment (read by the pipeline, copied by the
    dashboard's process) while the demo runs, unless one is set already."""
    own = not os.environ.get(SECRET_ENV)
    if own:
        os.environ[SECRET_ENV] = secrets.token_urlsafe(32)
    try:
        yield
    finally:
        if own:
            os.environ.pop(SECRET_ENV, None)


def demo_account(engine: Engine, now: datetime) -> str:
    """The manager account `demo` with a fresh password, made or reset (and enabled); returns it."""
    password = secrets.token_urlsafe(9)
    with engine.connect() as conn:
        user = get_user(conn, DEMO_USER)
    if user is None:
        add_user(engine, SETUP, DEMO_USER, Role.MANAGER, password, now)
        return password
    set_password(engine, SETUP, DEMO_USER, password, now)
    if user.role != Role.MANAGER:
        set_role(engine, SETUP, DEMO_USER, Role.MANAGER, now)
    if not user.active:
        enable_user(engine, SETUP, DEMO_USER, now)
    return password


def print_sign_in(engine: Engine, now: datetime) -> None:
    """Make the demo account and print how to sign in: the one place a password is printed."""
    password = demo_account(engine, now)
    print(
        f"Vigía demo: sign in as  {DEMO_USER}  with password  {password}   "
        f"(Entrar: usuario {DEMO_USER} · contraseña {password})",
        flush=True,
    )


@contextmanager
def demo_services(
    data_dir: Path, now: datetime | None = None, dashboard_port: int = 8501
) -> Iterator[tuple[Settings, DemoFeeds, Inbox]]:
    """Fresh data folder, sample server and SMTP sink running, demo config written and loaded,
    and a secret key for the acknowledge links set (see `demo_secret_key`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    kinds = set(REGISTRY)
    timeline = build_timeline(now or datetime.now(UTC), kinds)
    with (
        demo_secret_key(),
        DemoFeeds(timeline) as feeds,
        smtp_sink(data_dir / "inbox") as (inbox, smtp_port),
    ):
        path = write_config(
            data_dir, demo_config(feeds, timeline, smtp_port, kinds, dashboard_port)
        )
        yield load_settings(path), feeds, inbox


def load_history(rt: Runtime) -> None:
    """Poll every source once, one after the other, before the scheduler takes over.

    In order, the press feed first: the spreading thread's story is then already stored when the
    thread is first judged, so each alert is raised once at its final severity instead of
    racing parallel first polls into a warning followed by an escalation.
    """
    for report in poll_all(rt, force=True):
        print(f"  {report.summary()}", flush=True)


def team_at_work(rt: Runtime) -> None:
    """The agents lucia and pablo, and what they did with the inbox before the demo started
    (after the first polls, which fill it)."""
    now = rt.clock()
    demo_agents(rt.engine, SETUP, now)
    done = work_inbox(rt.engine, rt.settings.zone, now)
    print(
        f"  inbox: {done['answered']} answered and {done['dismissed']} dismissed by "
        f"{' and '.join(AGENTS)}; {done['assigned']} of the crisis taken, the rest is yours",
        flush=True,
    )


def run_demo(port: int, browser: bool, data_dir: Path) -> int:
    """Run the demo until Ctrl-C/SIGTERM; returns the exit status."""
    from vigia.dashboard_launcher import launch_dashboard
    from vigia.scheduler import run_until_stopped

    data_dir = data_dir.resolve()
    # Keep the console to the demo's story: poll summaries and alerts, not each job or SMTP verb.
    for chatty in ("apscheduler", "mail.log"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # The demo writes only to its own SQLite file, never to a database named in the environment.
    os.environ.pop("VIGIA_DATABASE_URL", None)
    if start_fresh(data_dir):
        print(f"Starting a fresh demo: removed the previous demo's data in {data_dir}")
    with demo_services(data_dir, dashboard_port=port) as (settings, feeds, inbox):
        rt = Runtime.build(settings)
        dashboard: subprocess.Popen[bytes] | None = None
        try:
            print_sign_in(rt.engine, rt.clock())
            dashboard = launch_dashboard(
                settings.base_dir / "config.yaml",
                port,
                browser,
                settings.resolved_database_url,
                address=settings.dashboard.address,
                public_url=settings.dashboard.public_url,
            )
            print("Loading two weeks of sample mentions from the local feeds:", flush=True)
            load_history(rt)
            team_at_work(rt)
            _print_welcome(settings, feeds, inbox, port)
            run_until_stopped(rt)
        finally:
            if dashboard is not None:
                dashboard.terminate()
                try:
                    dashboard.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    dashboard.kill()
            rt.close()
    print(f"Demo stopped. The alert e-mails stay in {inbox.folder}")
    return 0


def _print_welcome(settings: Settings, feeds: DemoFeeds, inbox: Inbox, port: int) -> None:
    sources = ", ".join(f"{s.name} ({s.type})" for s in settings.sources)
    print(
        f"""
Vigía demo — the fictional online retailer Vellora, two weeks of sample mentions (Spanish and
English), its competitor Korvo, and a crisis in the last two hours: double charges and a
failed delivery wave, with one angry thread spreading across sources.

  Dashboard      http://localhost:{port}  (opens in your browser; give it a few seconds)
  Sign in        as {DEMO_USER} (a manager), with the password printed above (new every run)
  Sample feeds   {feeds.url}  (local, no network)  sources: {sources}
  Configuration  {settings.base_dir / "config.yaml"}
  Database       {settings.resolved_database_url}
  Alert e-mails  {inbox.folder}/*.eml  (a local SMTP server receives them; open with any mail app)

The inbox (Bandeja) was being worked by the agents {" and ".join(AGENTS)} before you came; a
customer's legal threat was escalated by its rule and e-mailed to the managers.

New mentions keep arriving every few seconds. The spike and spreading-thread alerts are raised
within the first polls and e-mailed once each. Press Ctrl-C to stop.
""",
        flush=True,
    )
