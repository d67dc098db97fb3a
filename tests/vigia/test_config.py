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


def test_check_reports_field_and_cross_reference_mistakes_in_one_pass(tmp_path: Path) -> None:
    # Three kinds of mistake: a bad field value (interval), a source naming an unknown brand,
    # and a source name used twice. Before, the last two appeared only once the first was fixed.
    message = _error(
        tmp_path,
        BASE.replace("brand: Vellora", "brand: Korvo\n    interval: often")
        + "  - {name: vellora-news, type: rss, url: 'http://127.0.0.1:9/b.xml'}\n",
    )
    lines = message.splitlines()
    assert any(
        line.startswith("config.yaml: sources[0] (vellora-news).interval:") for line in lines
    )
    assert "config.yaml: sources (vellora-news).brand: unknown brand 'Korvo'; " in message
    assert "config.yaml: sources: the name 'vellora-news' is used twice" in message
    assert len(lines) == 3, message


def test_every_cross_reference_problem_is_reported_once(tmp_path: Path) -> None:
    # Fields valid: the model's own check reports both, without a copy from the raw-data check.
    message = _error(
        tmp_path,
        BASE.replace("brand: Vellora", "brand: Korvo")
        + "  - {name: vellora-news, type: rss, url: 'http://127.0.0.1:9/b.xml'}\n",
    )
    assert message.splitlines() == [
        "config.yaml: sources (vellora-news).brand: unknown brand 'Korvo'; expected one of: Vellora",
        "config.yaml: sources: the name 'vellora-news' is used twice; names must be unique",
    ]


def test_a_source_url_that_is_not_an_http_url_fails_the_check(tmp_path: Path) -> None:
    message = _error(tmp_path, BASE.replace("http://127.0.0.1:9/feed.xml", "not-a-url"))
    assert message == (
        "config.yaml: sources[0] (vellora-news): url: expected an http(s) URL such as "
        "https://example.com/feed.xml, got 'not-a-url'"
    )


def test_every_collector_address_option_is_checked_as_an_http_url() -> None:
    from pydantic import ValidationError

    from collectors import REGISTRY

    checked = []
    for name, collector in REGISTRY.items():
        for key in collector.Options.model_fields:
            if key in ("url", "base_url", "instance"):
                with pytest.raises(ValidationError, match=r"expected an http\(s\) URL"):
                    collector.Options.model_validate({key: "ftp:/nowhere"})
                checked.append(name)
    assert {"rss", "mastodon", "reddit", "youtube", "appstore"} <= set(checked)


def test_check_config_warns_without_failing(tmp_path: Path) -> None:
    # Recipients but no smtp: section, the only source disabled, no topics: valid, but each is
    # most likely a mistake, so check-config says so and still exits 0.
    path = tmp_path / "config.yaml"
    path.write_text(
        BASE.replace("brand: Vellora", "brand: Vellora\n    enabled: false")
        + "alerts:\n  recipients: [care@example.com]\n",
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert settings.warnings == [
        "alerts: 1 e-mail recipient(s) but no smtp: section; no alert or report e-mail can be sent",
        "sources: no enabled source; nothing will be collected",
        "topics: missing or empty; mentions will not be sorted into topics",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "vigia.cli", "check-config", "-c", str(path)],
        capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if ": warning: " in line]
    assert len(warnings) == 3
    assert warnings[0].startswith(f"{path}: warning: alerts: 1 e-mail recipient(s)")


def test_vigia_run_logs_the_warnings_once_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import vigia.pipeline
    import vigia.scheduler
    from vigia.cli import main

    class Stub:
        def close(self) -> None:
            pass

    monkeypatch.setattr(vigia.pipeline.Runtime, "build", staticmethod(lambda settings: Stub()))
    monkeypatch.setattr(vigia.scheduler, "run_until_stopped", lambda rt: None)
    path = tmp_path / "config.yaml"
    path.write_text(BASE.replace("brand: Vellora", "enabled: false"), encoding="utf-8")
    assert main(["run", "-c", str(path)]) == 0
    logged = [r.getMessage() for r in caplog.records if r.name == "vigia.config"]
    assert logged == [
        f"{path}: sources: no enabled source; nothing will be collected",
        f"{path}: topics: missing or empty; mentions will not be sorted into topics",
    ]
