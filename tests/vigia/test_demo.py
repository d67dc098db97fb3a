"""The demo: its sample data, its local feeds read by the real collectors, and its alerts by e-mail."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Connection, Engine, text

from collectors import REGISTRY
from timeutil import utc_now
from vigia.access.accounts import disable_user
from vigia.access.links import SECRET_ENV, LinkError, check_ack_token
from vigia.access.signin import sign_in
from vigia.demo.feeds import RSS_PATH, DemoFeeds
from vigia.demo.runner import SETUP, demo_services, load_history, print_sign_in, team_at_work
from vigia.demo.story import HISTORY, LEGAL_THREAT, STORY, THREAD_ROOT, bank, build_timeline
from vigia.demo.team import AGENTS
from vigia.pipeline import Runtime
from vigia.scheduler import run_until_stopped
from vigia.storage import connect
from vigia.storage.inbox import CLOSED_STATES, OPEN_STATES, ItemRow, QueueFilter, queue_page

T0 = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)  # a Monday morning
KNOWN_PLACEHOLDERS = {"marca", "producto", "ciudad", "dias", "pedido", "importe", "hora"}
SIGN_IN = re.compile(
    r"^Vigía demo: sign in as  (\S+)  with password  (\S+)   "
    r"\(Entrar: usuario \1 · contraseña \2\)$",
    re.MULTILINE,
)


def _templates(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for item in node for t in _templates(item)]
    if isinstance(node, dict):
        return [t for key, item in node.items() if key != "fill" for t in _templates(item)]
    return []


def test_sample_texts_use_only_known_placeholders() -> None:
    texts = _templates(bank())
    assert len(texts) > 300
    used = {name for t in texts for name in re.findall(r"\{(\w+)\}", t)}
    assert used <= KNOWN_PLACEHOLDERS


def test_timeline_has_two_weeks_of_history_the_incident_and_a_live_trickle() -> None:
    timeline = build_timeline(T0, set(REGISTRY))
    history = [i for i in timeline.items if i.at <= T0]
    # Two weeks back, in both languages, for both brands and for no brand at all.
    assert min(i.at for i in history) < T0 - HISTORY + timedelta(hours=6)
    assert {i.lang for i in history} == {"es", "en"}
    texts = " ".join(i.text for i in history).casefold()
    assert "vellora" in texts and "korvo" in texts
    assert any(
        "vellora" not in i.text.casefold() and "korvo" not in i.text.casefold() for i in history
    )
    # No template shows up as the same sentence again and again.
    assert Counter(i.text for i in history).most_common(1)[0][1] <= 15
    # The incident: the angry thread (replies accelerating) and its story on a second source.
    root, story = timeline.by_key[THREAD_ROOT], timeline.by_key[STORY]
    assert root.kind != story.kind and story.url and story.url in root.text
    # A customer threatens to go to the consumer association: the legal rule's case.
    assert "denuncia en la OCU" in timeline.by_key[LEGAL_THREAT].text
    replies = [i for i in history if i.parent == THREAD_ROOT]
    last_hour = sum(1 for i in replies if i.at > T0 - timedelta(hours=1))
    assert last_hour >= 2 * (len(replies) - last_hour) > 0
    # Items keep coming after the start, and nothing is in the future of what is served.
    assert sum(1 for i in timeline.items if T0 < i.at <= T0 + timedelta(minutes=5)) >= 10
    assert timeline.released("rss", T0) == [i for i in history if i.kind == "rss"]


def test_rss_route_releases_items_as_their_time_comes_and_answers_304() -> None:
    now = [T0]
    timeline = build_timeline(T0, {"rss", "mastodon"})
    with DemoFeeds(timeline, clock=lambda: now[0]) as feeds, httpx.Client() as client:
        first = client.get(feeds.url + RSS_PATH)
        assert first.status_code == 200 and first.text.count("<item>") == len(
            timeline.released("rss", T0)
        )
        etag = first.headers["ETag"]
        assert client.get(feeds.url + RSS_PATH, headers={"If-None-Match": etag}).status_code == 304
        now[0] = T0 + timedelta(minutes=30)
        later = client.get(feeds.url + RSS_PATH, headers={"If-None-Match": etag})
        assert later.status_code == 200 and later.text.count("<item>") > first.text.count("<item>")


def _subject(raw: bytes) -> str:
    return str(make_header(decode_header(message_from_bytes(raw)["Subject"] or "")))


def _printed_sign_in(engine: Engine, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The name and password `print_sign_in` prints, on its line of its own."""
    print_sign_in(engine, utc_now())
    (printed,) = SIGN_IN.findall(capsys.readouterr().out)
    return printed


def _signs_in_as_manager(engine: Engine, name: str, password: str) -> bool:
    user = sign_in(engine, name, password, utc_now()).user
    return user is not None and user.role == "manager"


def _ack_link(raw: bytes) -> tuple[int, str]:
    """The alert id and token of the acknowledge link in an e-mail's plain text."""
    message = message_from_bytes(raw, policy=default_policy)
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    (url,) = re.findall(r"http://localhost:8501/alerts\?id=\d+&ack=[\w.-]+", body)
    query = parse_qs(urlsplit(url).query)
    return int(query["id"][0]), query["ack"][0]


def _wait(condition, timeout: float = 40.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def test_demo_pipeline_stores_mentions_and_raises_each_alert_once_by_email(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)  # the demo makes its own
    with demo_services(tmp_path) as (settings, feeds, inbox):
        rt = Runtime.build(settings)
        name, password = _printed_sign_in(rt.engine, capsys)
        assert name == "demo" and _signs_in_as_manager(rt.engine, name, password)
        load_history(rt)
        team_at_work(rt)
        inbox_now = rt.clock()
        stop = threading.Event()
        runner = threading.Thread(target=run_until_stopped, args=(rt, stop))
        runner.start()
        try:

            def rules() -> Counter[str]:
                with rt.engine.connect() as conn:
                    return Counter(r for (r,) in conn.execute(text("SELECT rule FROM alerts")))

            assert _wait(lambda: {"negative_spike", "spreading_thread"} <= set(rules())), rules()
            # Let the fastest source poll a few more times: the crisis goes on, no new alert.
            fastest = min(s.interval for s in settings.sources).total_seconds()
            time.sleep(2 * fastest + 1)
            alert_counts = rules()
        finally:
            stop.set()
            runner.join(timeout=30)
        with rt.engine.connect() as conn:
            per_source = dict(
                conn.execute(text("SELECT source, count(*) FROM mentions GROUP BY source")).all()
            )
            scored = {
                lang: n
                for lang, n in conn.execute(
                    text(
                        "SELECT language, count(*) FROM mentions WHERE compound IS NOT NULL "
                        "AND sentiment IS NOT NULL GROUP BY language"
                    )
                )
            }
            topics = conn.execute(
                text("SELECT count(*) FROM mentions WHERE topics IS NOT NULL")
            ).scalar()
            unbranded = conn.execute(
                text("SELECT count(*) FROM mentions WHERE brand IS NULL")
            ).scalar()
            brands = {b for (b,) in conn.execute(text("SELECT DISTINCT brand FROM mentions"))}
            items = _inbox(conn, inbox_now)
            escalation_alerts = conn.execute(
                text("SELECT id, subject FROM alerts WHERE rule = 'inbox_escalation'")
            ).all()
        rt.close()
        received = [
            (_subject(p.read_bytes()), message_from_bytes(p.read_bytes())["To"])
            for p in inbox.received
        ]
        # The demo's own secret key signs each e-mail's acknowledge link for its alert.
        for path in inbox.received:
            alert_id, token = _ack_link(path.read_bytes())
            check_ack_token(token, alert_id, utc_now())
            with pytest.raises(LinkError):
                check_ack_token(token, alert_id + 100, utc_now())
    assert SECRET_ENV not in os.environ  # set for the demo's run only

    # Every configured source served and stored mentions; several kinds of source.
    assert set(per_source) == {s.name for s in settings.sources}
    assert all(n > 0 for n in per_source.values())
    assert len({s.type for s in settings.sources}) >= min(3, len(REGISTRY))
    # Spanish and English, both scored; topics found; both brands and unbranded items.
    assert scored.get("es", 0) > 100 and scored.get("en", 0) > 30
    assert topics and topics > 100
    assert {"Vellora", "Korvo", None} <= brands and unbranded
    # One alert per crisis rule, e-mailed once to each address it goes to.
    crisis = {"negative_spike", "spreading_thread"}
    assert {r: n for r, n in alert_counts.items() if r in crisis} == dict.fromkeys(crisis, 1)
    assert len(received) == len(set(received)) >= 2
    assert any("Vellora" in s for s, _ in received)
    assert {to for _, to in received} >= {"comunidad@vellora.example"}
    # No second round of either (an "(escalada)" copy would be a third subject).
    crisis_mail = {s for s, _ in received if "pico de menciones" in s or "hilo negativo" in s}
    assert len(crisis_mail) == 2

    # The inbox, as the team left it: answered by the demo agents after minutes to hours, ...
    answered = [i for i in items if i.state == "answered"]
    assert len(answered) >= 5 and {i.assignee for i in answered} == set(AGENTS)
    waits = [i.first_response_at - i.opened_at for i in answered]
    assert min(waits) >= timedelta(minutes=3) and max(waits) <= timedelta(hours=12)
    assert sorted(waits)[len(waits) // 2] <= timedelta(hours=2)
    # ... some open past their target, the crisis partly taken by an agent, ...
    assert sum(i.open and i.due_at <= inbox_now for i in items) >= 3
    assert any(i.state == "assigned" for i in items)
    # ... and the legal threat escalated by its rule, e-mailed to the managers: one alert per
    # escalated item, at most one e-mail each (a poll cut short by the stop may not have sent
    # the last one yet), the threat's among them.
    escalated = {i.id: i for i in items if i.state == "escalated"}
    threat = next(i for i in escalated.values() if "denuncia en la OCU" in (i.text or ""))
    assert threat.escalation_rule == "legal"
    # Mastodon gives its authors' followers: the threat's 180, and many another item's reach.
    assert "180 seguidores" in threat.reasons
    assert sum(any(r.endswith(" seguidores") for r in i.reasons) for i in items) >= 10
    assert sorted(subject for _, subject in escalation_alerts) == sorted(
        f"inbox item {n}" for n in escalated
    )
    to_managers = [s for s, to in received if "mención escalada" in s]
    assert len(to_managers) == len(set(to_managers))
    assert set(to_managers) <= {
        f"[Vigía] CRÍTICO · Vellora #{n} · mención escalada" for n in escalated
    }
    assert f"[Vigía] CRÍTICO · Vellora #{threat.id} · mención escalada" in to_managers
    assert {to for s, to in received if "mención escalada" in s} == {"direccion@vellora.example"}


def _inbox(conn: Connection, now: datetime) -> list[ItemRow]:
    """Every inbox item, open or closed."""
    every = QueueFilter(states=OPEN_STATES + CLOSED_STATES)
    return queue_page(conn, every, now, now, limit=10_000)


def test_a_later_demo_run_gives_the_demo_account_a_new_password_and_enables_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'vigia-demo.db'}")
    try:
        name, first = _printed_sign_in(engine, capsys)
        disable_user(engine, SETUP, name, utc_now())
        again, second = _printed_sign_in(engine, capsys)
        assert again == name and second != first
        assert _signs_in_as_manager(engine, name, second)
        assert not _signs_in_as_manager(engine, name, first)
    finally:
        engine.dispose()
