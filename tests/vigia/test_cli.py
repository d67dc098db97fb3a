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
    assert _stored(tmp_path) == 0


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
