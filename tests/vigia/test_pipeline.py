"""The pipeline end to end on a real SQLite file, against a real local HTTP server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.replay import ReplayServer, Reply
from tests.vigia.alert_scenario import SimClock
from vigia.pipeline import Runtime, poll_all
from vigia.scheduler import run_until_stopped
from vigia.storage import connect
from vigia.storage.schema import mentions, source_state

FEED = (Path(__file__).resolve().parents[1] / "fixtures" / "vellora-es.rss.xml").read_bytes()
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
JSON = {"Content-Type": "application/json"}


def _sources(replay: ReplayServer, *names: str) -> list[dict]:
    return [
        {
            "name": name,
            "type": "rss",
            "url": f"{replay.url}/{name}.xml",
            "brand": "Vellora",
            "language": "es",
        }
        for name in names
    ]


def _stored(rt: Runtime) -> list[tuple]:
    with rt.engine.connect() as conn:
        return conn.execute(
            select(
                mentions.c.source,
                mentions.c.source_id,
                mentions.c.brand,
                mentions.c.language,
                mentions.c.sentiment,
            ).order_by(mentions.c.source_id)
        ).all()


def test_feed_is_stored_once_and_polled_conditionally(
    replay: ReplayServer, runtime_factory
) -> None:
    replay.route("/forum.xml", Reply(FEED, headers={**RSS, "ETag": '"v1"'}), Reply(status=304))
    rt = runtime_factory(sources=_sources(replay, "forum"))
    first = poll_all(rt)
    second = poll_all(rt, force=True)
    rows = _stored(rt)
    assert [(r.fetched, r.new, r.error) for r in first] == [(3, 3, None)]
    assert [(r.fetched, r.new, r.error) for r in second] == [(0, 0, None)]
    assert replay.hits("/forum.xml")[1].headers.get("If-None-Match") == '"v1"'
    assert "Vigia/" in replay.hits("/forum.xml")[0].headers["User-Agent"]
    assert [r.source_id for r in rows] == [f"https://foro.example.es/t/100{n}" for n in (1, 2, 3)]
    # Only the items that name the brand are filed under it; all are kept, in Spanish, scored.
    assert [r.brand for r in rows] == ["Vellora", "Vellora", None]
    assert {r.language for r in rows} == {"es"}
    assert rows[0].sentiment == "negative" and rows[1].sentiment == "positive"


def test_repeated_polls_without_validators_do_not_duplicate(
    replay: ReplayServer, runtime_factory
) -> None:
    replay.route("/forum.xml", Reply(FEED, headers=RSS))
    rt = runtime_factory(sources=_sources(replay, "forum"))
    for _ in range(3):
        poll_all(rt, force=True)
    with rt.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(mentions)).scalar_one() == 3


def test_broken_source_is_recorded_and_backed_off_without_stopping_others(
    replay: ReplayServer, runtime_factory
) -> None:
    replay.route("/broken.xml", Reply(b"<html>oops</html>", status=500))
    replay.route(
        "/garbage.xml", Reply(b"<rss><channel><item><title>Vellora", headers=RSS, truncate=20)
    )
    replay.route("/forum.xml", Reply(FEED, headers=RSS))
    rt = runtime_factory(sources=_sources(replay, "broken", "garbage", "forum"))
    reports = {r.source: r for r in poll_all(rt)}
    assert "TransientError" in reports["broken"].error and "HTTP 500" in reports["broken"].error
    assert reports["garbage"].error is not None
    assert reports["forum"].new == 3
    with rt.engine.connect() as conn:
        state = {r.source: r for r in conn.execute(select(source_state))}
    assert state["broken"].consecutive_failures == 1
    assert state["broken"].next_poll_at > datetime.now(UTC).replace(tzinfo=None)
    assert state["forum"].last_success_at is not None and state["forum"].last_error is None
    # Within its backoff, a failing source is not polled again by the schedule.
    before = len(replay.hits("/broken.xml"))
    assert poll_all(rt, ["broken"])[0].deferred_until is not None
    assert len(replay.hits("/broken.xml")) == before


def test_scheduler_polls_and_stops_cleanly(replay: ReplayServer, runtime_factory) -> None:
    replay.route("/forum.xml", Reply(FEED, headers=RSS))
    rt = runtime_factory(sources=[{**_sources(replay, "forum")[0], "interval": "5s"}])
    stop = threading.Event()
    runner = threading.Thread(target=run_until_stopped, args=(rt, stop))
    runner.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(_stored(rt)) < 3:
        time.sleep(0.1)
    stop.set()
    runner.join(timeout=20)
    assert not runner.is_alive()
    assert len(_stored(rt)) == 3


def test_vigia_run_stops_on_sigterm_keeping_what_it_fetched(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.route("/forum.xml", Reply(FEED, headers=RSS))
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
database_url: sqlite:///data/run.db
brands: [{{name: Vellora, keywords: [vellora]}}]
sources:
  - {{name: forum, type: rss, url: "{replay.url}/forum.xml", interval: 1h}}
http: {{min_interval_per_host: 0}}
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "vigia.cli", "-c", str(config), "run"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not replay.hits("/forum.xml"):
            time.sleep(0.1)
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "stopping" in output
    engine = connect(f"sqlite:///{tmp_path / 'data' / 'run.db'}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(mentions)).scalar_one() == 3
    engine.dispose()


def test_active_conversations_are_reread_so_replies_that_never_name_the_brand_arrive(
    replay: ReplayServer, runtime_factory, shared_feeds: Path
) -> None:
    # A subreddit listing shows the post; its comments are only in the thread's own page. Once the
    # post is stored, the pipeline points the collector at it and its comments are read.
    thread = json.loads(
        (shared_feeds / "reddit/asyncpraw-thread-54hhwl-comment-context.json").read_bytes()
    )
    post = thread[0]["data"]["children"][0]["data"]
    replay.route("/r/vellora/new.json", Reply(json.dumps(thread[0]).encode(), headers=JSON))
    replay.route("/comments/54hhwl.json", Reply(json.dumps(thread).encode(), headers=JSON))
    clock = SimClock(datetime.fromtimestamp(post["created_utc"], UTC) + timedelta(hours=1))
    source = {
        "name": "reddit-new", "type": "reddit", "subreddit": "vellora", "base_url": replay.url,
        "brand": "Vellora", "match": "always",
    }  # fmt: skip
    rt = runtime_factory(clock=clock, sources=[source])

    first = poll_all(rt)[0]
    assert (first.new, replay.hits("/comments/54hhwl.json")) == (1, [])
    clock.advance(minutes=15)
    second = poll_all(rt, force=True)[0]
    assert second.error is None and len(replay.hits("/comments/54hhwl.json")) == 1
    with rt.engine.connect() as conn:
        threads = conn.execute(
            select(mentions.c.thread_id, func.count()).group_by(mentions.c.thread_id)
        ).all()
    assert threads == [("t3_54hhwl", 1 + 10)], "the post and its ten comments, each once"
