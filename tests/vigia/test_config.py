"""Configuration: the shipped file is valid, and every mistake stops start-up with a line naming its key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vigia.config import ConfigError, load_settings, parse_duration, secret_env_name

REPO = Path(__file__).resolve().parents[2]

BASE = """
brands:
  - name: Vellora
    keywords: [vellora]
sources:
  - name: vellora-news
    type: rss
    url: http://127.0.0.1:9/feed.xml
    brand: Vellora
"""


def _error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_shipped_config_is_valid() -> None:
    settings = load_settings(REPO / "config.yaml")
    assert settings.brands[0].name == "Vellora"
    assert settings.resolved_database_url.endswith("/data/vigia.db")


def test_relative_sqlite_path_is_anchored_at_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(BASE, encoding="utf-8")
    settings = load_settings(tmp_path / "config.yaml")
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'vigia.db'}"
    assert settings.sources[0].interval.total_seconds() == 900


def test_unknown_key_names_the_key_and_the_expected_ones(tmp_path: Path) -> None:
    message = _error(
        tmp_path, BASE.replace("keywords: [vellora]", "keywords: [vellora]\n    colour: red")
    )
    assert message == (
        "config.yaml: brands[0] (Vellora).colour: unknown key; expected one of: name, keywords, aliases, exclude, competitor"
    )


def test_wrong_value_names_the_source_and_what_is_expected(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE + "    interval: often\n")
    assert message == (
        "config.yaml: sources[0] (vellora-news).interval: expected a duration such as 90s, 15m, 2h or 1d"
    )


def test_unknown_source_type_lists_the_known_ones(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE.replace("type: rss", "type: rsss"))
    assert "sources[0] (vellora-news).type: unknown source type; expected one of:" in message
    assert "rss" in message.split("expected one of:")[1]


def test_collector_option_errors_name_the_option(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE.replace("url:", "link:"))
    assert "sources[0] (vellora-news)" in message
    assert "url: required key is missing" in message
    assert "link: unknown key" in message


def test_source_brand_must_be_configured(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE.replace("brand: Vellora", "brand: Korvo"))
    assert "unknown brand 'Korvo'; expected one of: Vellora" in message


def test_wrong_type_is_reported_with_the_value(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE + "http:\n  retries: many\n")
    assert message.startswith("config.yaml: http.retries: ")
    assert "'many'" in message


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    text = BASE + "smtp:\n  host: smtp.example.com\n  sender: a@example.com\n  password: hunter2\n"
    message = _error(tmp_path, text)
    assert "smtp: 'password' must not be written in config.yaml" in message
    assert "VIGIA_SMTP_PASSWORD" in message


def test_smtp_password_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        BASE + "smtp:\n  host: smtp.example.com\n  sender: a@example.com\n", encoding="utf-8"
    )
    monkeypatch.setenv("VIGIA_SMTP_PASSWORD", "s3cret")
    assert load_settings(path).smtp.password == "s3cret"
    assert (
        secret_env_name("sources", "acme-bsky", "app_password")
        == "VIGIA_SOURCES_ACME_BSKY_APP_PASSWORD"
    )


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    message = _error(tmp_path, "brands: [\n  - oops: : :\n")
    assert message.startswith(f"{tmp_path / 'config.yaml'}: line ")


def test_durations() -> None:
    assert parse_duration("90s").total_seconds() == 90
    assert parse_duration("2h").total_seconds() == 7200
    assert parse_duration(30).total_seconds() == 30
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_check_config_command_prints_the_same_line_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE + "    interval: often\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "vigia.cli", "-c", str(path), "check-config"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "sources[0] (vellora-news).interval: expected a duration" in result.stderr
    ok = tmp_path / "ok.yaml"
    ok.write_text(BASE, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "vigia.cli", "-c", str(ok), "check-config"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "OK — 1 brands, 1 sources" in result.stdout
