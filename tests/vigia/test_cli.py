"""The `vigia` command as a user runs it: collect once, and a dry run that writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from tests.replay import ReplayServer, Reply
from vigia.storage import connect
from vigia.storage.schema import mentions

FEED = (Path(__file__).resolve().parents[1] / "fixtures" / "vellora-es.rss.xml").read_bytes()


def _config(tmp_path: Path, replay: ReplayServer) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
database_url: sqlite:///data/cli.db
brands: [{{name: Vellora, keywords: [vellora]}}]
sources:
  - {{name: forum, type: rss, url: "{replay.url}/forum.xml", language: es}}
  - {{name: dead, type: rss, url: "{replay.url}/dead.xml"}}
http: {{min_interval_per_host: 0, retries: 0}}
""",
        encoding="utf-8",
    )
    return path


def _vigia(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigia.cli", "-c", str(config), *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def _stored(tmp_path: Path) -> int:
    engine = connect(f"sqlite:///{tmp_path / 'data' / 'cli.db'}")
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
    engine.dispose()
    return count


def test_dry_run_prints_what_would_be_stored_and_writes_nothing(
    replay: ReplayServer, tmp_path: Path
) -> None:
    replay.route("/forum.xml", Reply(FEED, headers={"Content-Type": "application/rss+xml"}))
    result = _vigia(
        _config(tmp_path, replay), "collect", "--once", "--source", "forum", "--dry-run"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "forum: would store 3 items (0 skipped)"
    assert "Vellora" in lines[1] and " es " in lines[1] and "negative" in lines[1]
    assert "Vellora me cobró dos veces" in lines[1]
    assert "(no brand)" in result.stdout
    assert not (tmp_path / "data").exists(), "a dry run opens, creates and migrates no database"


def test_dry_run_exits_1_when_every_source_failed(replay: ReplayServer, tmp_path: Path) -> None:
    gone = Reply(b"<html>gone</html>", status=404, headers={"Content-Type": "text/html"})
    replay.route("/forum.xml", gone)
    replay.route("/dead.xml", gone)
    result = _vigia(_config(tmp_path, replay), "collect", "--dry-run")
    assert result.returncode == 1, result.stdout
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["forum", "dead"]
    assert "ERROR" in result.stdout
    assert not (tmp_path / "data").exists()


def test_dry_run_exits_0_when_some_source_worked(replay: ReplayServer, tmp_path: Path) -> None:
    replay.route("/forum.xml", Reply(FEED, headers={"Content-Type": "application/rss+xml"}))
    replay.route("/dead.xml", Reply(b"gone", status=404, headers={"Content-Type": "text/html"}))
    result = _vigia(_config(tmp_path, replay), "collect", "--dry-run")
    assert result.returncode == 0, result.stdout
    assert "forum: would store 3 items" in result.stdout and "dead: ERROR" in result.stdout


def test_collect_once_stores_and_reports_each_source(replay: ReplayServer, tmp_path: Path) -> None:
    replay.route("/forum.xml", Reply(FEED, headers={"Content-Type": "application/rss+xml"}))
    replay.route(
        "/dead.xml", Reply(b"<html>gone</html>", status=404, headers={"Content-Type": "text/html"})
    )
    result = _vigia(_config(tmp_path, replay), "collect", "--once")
    assert result.returncode == 1, "a failed source makes the exit status non-zero"
    assert "forum: 3 fetched, 3 new, 0 updated" in result.stdout
    assert (
        "dead: 0 fetched" in result.stdout
        and "HTTP 404" in result.stdout
        and "not found" in result.stdout
    )
    assert _stored(tmp_path) == 3


def test_config_and_verbose_are_accepted_before_or_after_any_subcommand(tmp_path: Path) -> None:
    from vigia.cli import build_parser

    parser = build_parser()
    for argv in (
        ["check-config", "-c", "mine.yaml"],
        ["-c", "mine.yaml", "check-config"],
        ["inbox", "list", "-c", "mine.yaml"],
        ["inbox", "-c", "mine.yaml", "list"],
        ["-c", "other.yaml", "alerts", "list", "--config", "mine.yaml"],  # the later one wins
    ):
        assert parser.parse_args(argv).config == "mine.yaml", argv
    assert parser.parse_args(["users", "list", "-v"]).verbose is True
    # Not given after the subcommand: the top-level value or default stays.
    assert parser.parse_args(["-v", "-c", "mine.yaml", "db", "current"]).verbose is True
    assert parser.parse_args(["-c", "mine.yaml", "db", "current"]).config == "mine.yaml"


def test_check_config_takes_the_config_after_the_subcommand(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "database_url: sqlite:///data/x.db\nbrands: [{name: Vellora, keywords: [vellora]}]\n"
        "sources: []\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "vigia.cli", "check-config", "-c", str(config)],
        capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{config}: OK")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_to_vigia_dashboard_stops_streamlit_and_frees_the_port(tmp_path: Path) -> None:
    import os
    import signal
    import time

    from vigia.dashboard_launcher import wait_until_listening

    config = tmp_path / "config.yaml"
    config.write_text(
        "database_url: sqlite:///data/d.db\nbrands: [{name: Vellora, keywords: [vellora]}]\n",
        encoding="utf-8",
    )
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "vigia.cli", "dashboard", "-c", str(config), "--port", str(port),
         "--no-browser"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_until_listening(port, timeout=60), "the dashboard never listened"
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 1, children  # Streamlit
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 5
        while wait_until_listening(port, timeout=0.5) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not wait_until_listening(port, timeout=0.5), "Streamlit still serves the port"
        try:
            os.kill(int(children[0]), 0)
            raise AssertionError("Streamlit is still running")
        except ProcessLookupError:
            pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_vigia_run_logs_one_info_line_per_poll_and_no_scheduler_chatter(
    replay: ReplayServer, tmp_path: Path
) -> None:
    import re
    import signal

    replay.route("/forum.xml", Reply(FEED, headers={"Content-Type": "application/rss+xml"}))
    config = _config(tmp_path, replay)
    # A 3 s lease renews the claims every second: APScheduler's "claims" pool runs that job
    # often, and used to log each run at INFO.
    text = config.read_text(encoding="utf-8").replace("  - {name: dead", "  # - {name: dead")
    config.write_text(text + "workers: {lease: 3s}\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "vigia.cli", "run", "-c", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _, err = process.communicate(timeout=6)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert "apscheduler" not in err, err
    polls = re.findall(r" INFO vigia\.scheduler: forum: (.*)", err)
    assert len(polls) == 1, err  # the source's interval (15 min) allows one poll
    assert re.fullmatch(r"3 fetched, 3 new, 0 updated in \d+\.\ds", polls[0]), polls[0]
