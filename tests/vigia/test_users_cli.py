"""The team-access CLI as an operator runs it on a real SQLite file: `vigia users`, `--as`,
`vigia audit`, the audited `alerts` and `forget`, and check-config's notes on secrets."""

from __future__ import annotations

import getpass
import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from tests.vigia.conftest import Run
from tests.vigia.test_access import T0, new_alert
from tests.vigia.test_retention import item, rows, store
from vigia.access.actions import author_digest, change_alert_state
from vigia.access.links import SECRET_ENV
from vigia.access.roles import Actor, Role
from vigia.access.signin import sign_in
from vigia.storage.alerts import get_alert
from vigia.storage.audit import entries
from vigia.storage.users import get_user

PASSWORD = "s3cret-Passw0rd-ana"
MADRID = ZoneInfo("Europe/Madrid")
SSO_ENV = ("VIGIA_AUTH_SSO_CLIENT_ID", "VIGIA_AUTH_SSO_CLIENT_SECRET")


def typed(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Answer the hidden password prompts with `answers`; returns the prompts shown."""
    prompts: list[str] = []
    replies = iter(answers)

    def fake_getpass(prompt: str = "Password: ") -> str:
        prompts.append(prompt)
        return next(replies)

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    return prompts


def created(engine: Engine, name: str) -> str:
    """When the account was created, as `users list` shows it (Madrid time)."""
    with engine.connect() as conn:
        user = get_user(conn, name)
    assert user is not None
    return f"{user.created_at.astimezone(MADRID):%Y-%m-%d %H:%M}"


def refused(run: Run, message: str) -> None:
    assert (run.code, run.out) == (1, "")
    assert run.err.splitlines()[-1] == f"error: {message}"


def fields(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def audit_json(vigia: Callable[..., Run], *args: str) -> list[dict[str, object]]:
    run = vigia("audit", "--json", *args)
    assert run.code == 0, run.err
    return json.loads(run.out)


# -- vigia users ----------------------------------------------------------------------------------


def test_users_are_added_listed_changed_and_disabled_through_the_cli(
    vigia: Callable[..., Run],
    transcript: list[str],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    prompts = typed(monkeypatch, "first admin pass", "first admin pass")
    assert vigia("users", "add", "boss", "--role", "admin") == Run(
        0, "user boss added (admin)\n", ""
    )
    assert len(prompts) == 2, "asked twice"
    added = vigia(
        "users", "add", "ana", "--role", "agent", "--email", "ana@example.com",
        "--password-stdin", stdin=PASSWORD + "\nignored\n",
    )  # fmt: skip
    assert added.out == "user ana added (agent)\n"
    assert sign_in(engine, "ana", PASSWORD, T0).user is not None, "the first line, no newline"

    listing = vigia("users", "list").out.splitlines()
    assert [fields(line) for line in listing] == [
        ["name", "role", "e-mail", "status", "created"],
        ["ana", "agent", "ana@example.com", "active", created(engine, "ana")],
        ["boss", "admin", "-", "active", created(engine, "boss")],
    ]

    assert vigia("users", "role", "ana", "manager").out == "user ana: role manager\n"
    assert vigia("users", "disable", "ana").out.startswith("user ana disabled")
    assert fields(vigia("users", "list").out.splitlines()[1])[3] == "disabled"
    assert sign_in(engine, "ana", PASSWORD, T0).user is None
    assert vigia("users", "enable", "ana").out == "user ana enabled\n"
    new_password = "an0ther-long-one"
    changed = vigia("users", "passwd", "ana", "--password-stdin", stdin=new_password + "\r\n")
    assert changed.out.startswith("user ana: password changed")
    assert sign_in(engine, "ana", PASSWORD, T0).user is None
    assert sign_in(engine, "ana", new_password, T0).user is not None
    with engine.connect() as conn:
        ana = get_user(conn, "ana")
    assert ana is not None and ana.role == "manager" and ana.active

    actions = [(e["actor"], e["via"], e["action"]) for e in audit_json(vigia)]
    assert actions == [
        (f"shell:{getpass.getuser()}", "cli", action)
        for action in ("user.add", "user.add", "user.role", "user.disable", "user.enable",
                       "user.passwd")
    ]  # fmt: skip
    everything = "".join(transcript) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (PASSWORD, new_password, "first admin pass", "$argon2"):
        assert secret not in everything


def test_users_errors_are_one_line_and_exit_1(
    vigia: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    vigia("users", "add", "ana", "--role", "agent", "--password-stdin", stdin=PASSWORD)
    refused(
        vigia("users", "add", "Ana", "--role", "viewer", "--password-stdin", stdin=PASSWORD),
        "a user called 'Ana' exists already",
    )
    refused(
        vigia("users", "add", "bob", "--role", "viewer", "--password-stdin", stdin="short\n"),
        "the password needs at least 10 characters",
    )
    refused(
        vigia("users", "add", "bob", "--role", "viewer", "--password-stdin"),
        "the password needs at least 10 characters",
    )
    typed(monkeypatch, "long enough one", "long enough two")
    refused(vigia("users", "add", "bob", "--role", "viewer"), "the two passwords differ")
    prompts = typed(monkeypatch, "tiny")
    refused(vigia("users", "passwd", "ana"), "the password needs at least 10 characters")
    assert len(prompts) == 1, "a short password is refused before it is typed again"
    for action in (("disable", "nobody"), ("enable", "nobody"), ("role", "nobody", "admin")):
        refused(vigia("users", *action), "no user called 'nobody'")
    refused(
        vigia("users", "passwd", "nobody", "--password-stdin", stdin=PASSWORD),
        "no user called 'nobody'",
    )
    with pytest.raises(SystemExit) as usage:
        vigia("users", "add", "bob", "--role", "owner")
    assert usage.value.code == 2
    assert [e["action"] for e in audit_json(vigia)] == ["user.add"], "nothing else happened"


def test_the_installed_command_adds_a_user_from_stdin(config: Path, engine: Engine) -> None:
    vigia_bin = Path(sys.executable).with_name("vigia")
    result = subprocess.run(
        [str(vigia_bin), "-c", str(config), "users", "add", "root", "--role", "admin",
         "--password-stdin"],
        input=PASSWORD + "\n", capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "user root added (admin)\n"), result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert sign_in(engine, "root", PASSWORD, T0).user is not None


# -- --as -----------------------------------------------------------------------------------------


def test_as_checks_the_accounts_role_and_is_named_in_the_audit_trail(
    vigia: Callable[..., Run], engine: Engine
) -> None:
    alert_id = new_alert(engine)
    for name, role in (("vic", "viewer"), ("mia", "manager"), ("old", "admin")):
        vigia("users", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD)
    vigia("users", "disable", "old")
    before = audit_json(vigia)

    refused(
        vigia("alerts", "ack", str(alert_id), "--as", "vic"),
        "vic (viewer) may not acknowledge, resolve or reopen alerts: "
        "needs the manager role or higher",
    )
    refused(
        vigia("alerts", "ack", str(alert_id), "--as", "nobody"), "--as: no user called 'nobody'"
    )
    refused(vigia("alerts", "ack", str(alert_id), "--as", "old"), "--as: user old is disabled")
    refused(
        vigia("forget", "--author", "Ana", "--as", "mia"),
        "mia (manager) may not erase an author's data: needs the admin role or higher",
    )
    refused(
        vigia("users", "add", "eve", "--role", "admin", "--password-stdin", "--as", "mia",
              stdin=PASSWORD),
        "mia (manager) may not manage users: needs the admin role or higher",
    )  # fmt: skip
    refused(
        vigia("users", "list", "--as", "mia"),
        "mia (manager) may not manage users: needs the admin role or higher",
    )
    refused(
        vigia("audit", "--as", "vic"),
        "vic (viewer) may not read the audit trail: needs the manager role or higher",
    )
    with engine.connect() as conn:
        alert = get_alert(conn, alert_id)
    assert alert is not None and alert.state.value == "open"
    assert audit_json(vigia) == before, "a refusal writes nothing"

    acked = vigia("alerts", "ack", str(alert_id), "--as", "MIA")
    assert acked.out == f"alert {alert_id} (negative_spike, Vellora): acknowledged\n"
    assert vigia("alerts", "resolve", str(alert_id), "--as", "mia").code == 0
    assert vigia("alerts", "reopen", str(alert_id), "--as", "mia").out.endswith(": open\n")
    refused(vigia("alerts", "ack", "999", "--as", "mia"), "no alert with id 999")
    added = audit_json(vigia, "--as", "mia")[len(before) :]
    assert [(e["actor"], e["via"], e["action"], e["target"], e["before"], e["after"])
            for e in added] == [
        ("mia", "cli", "alert.acknowledge", f"alert {alert_id}", {"state": "open"},
         {"state": "acknowledged"}),
        ("mia", "cli", "alert.resolve", f"alert {alert_id}", {"state": "acknowledged"},
         {"state": "resolved"}),
        ("mia", "cli", "alert.reopen", f"alert {alert_id}", {"state": "resolved"},
         {"state": "open"}),
    ]  # fmt: skip
    own = vigia("users", "passwd", "vic", "--password-stdin", "--as", "vic", stdin="vic's own pass")
    assert own.code == 0, "anyone may change their own password"


def test_without_as_the_shell_acts_as_admin_under_its_login(
    vigia: Callable[..., Run], engine: Engine
) -> None:
    alert_id = new_alert(engine)
    assert vigia("alerts", "ack", str(alert_id)).code == 0
    (entry,) = audit_json(vigia)
    assert (entry["actor"], entry["via"]) == (f"shell:{getpass.getuser()}", "cli")
    assert entry["at"].endswith("+00:00")
    assert datetime.fromisoformat(entry["at"]) <= datetime.now(UTC)


def test_forget_is_audited_under_the_authors_digest(
    vigia: Callable[..., Run], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store(engine, [item(1, T0, author="Zoé Martín"), item(2, T0, author="Bob")], collected=T0)
    with caplog.at_level(logging.WARNING):
        erased = vigia("forget", "--author", "ZOÉ MARTÍN")
    assert erased.out.splitlines() == [
        "reddit-vellora: 1 mentions erased",
        "alerts whose evidence quoted them: 0",
    ]
    (entry,) = audit_json(vigia)
    digest = author_digest("zoé martín")
    assert (entry["action"], entry["target"]) == ("author.forget", f"author {digest}")
    assert entry["before"] == {"mentions": 1}
    (line,) = [r.getMessage() for r in caplog.records if r.name == "vigia.forget"]
    assert digest in line and "audit trail" in line
    recorded = (json.dumps(entry, ensure_ascii=False) + line).lower()
    assert not any(part in recorded for part in ("zoé", "zoe", "martín", "martin"))
    assert [author for author, _ in rows(engine).values()] == ["Bob"]


# -- vigia audit ----------------------------------------------------------------------------------


def test_audit_since_a_local_date_or_an_instant_with_limit_and_json(
    vigia: Callable[..., Run], engine: Engine
) -> None:
    alert_id = new_alert(engine)
    mia = Actor("mia", Role.MANAGER, "dashboard")
    # Madrid is UTC+1 in winter: 23:30 UTC on the 29th is already the 30th there.
    for state, at in (
        ("acknowledged", datetime(2026, 11, 29, 22, 30, tzinfo=UTC)),  # 23:30 on the 29th
        ("resolved", datetime(2026, 11, 29, 23, 30, tzinfo=UTC)),  # 00:30 on the 30th
        ("open", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),  # 09:00 on the 30th
    ):
        change_alert_state(engine, mia, alert_id, state, at)

    run = vigia("audit", "--since", "2026-11-30")
    assert [fields(line) for line in run.out.splitlines()] == [
        ["2026-11-30 00:30:00", "mia", "dashboard", "alert.resolve", f"alert {alert_id}",
         "state: acknowledged → resolved"],
        ["2026-11-30 09:00:00", "mia", "dashboard", "alert.reopen", f"alert {alert_id}",
         "state: resolved → open"],
    ]  # fmt: skip
    assert len(vigia("audit").out.splitlines()) == 3
    assert [e["action"] for e in audit_json(vigia, "--since", "2026-11-30T00:00:00+00:00")] == [
        "alert.reopen"
    ]
    assert [e["action"] for e in audit_json(vigia, "--since", "2026-11-29T23:31")] == [
        "alert.resolve",
        "alert.reopen",
    ], "a time without an offset is local: 22:31 UTC"
    assert [e["action"] for e in audit_json(vigia, "--limit", "2")] == [
        "alert.resolve",
        "alert.reopen",
    ], "the last two, oldest first"
    last = audit_json(vigia, "--limit", "1")[0]
    assert set(last) == {"id", "at", "actor", "via", "action", "target", "before", "after"}
    assert last["at"] == "2026-11-30T08:00:00+00:00"
    assert vigia("audit", "--since", "2027-01-01").out == "no audit entries\n"
    assert audit_json(vigia, "--since", "2027-01-01") == []
    for bad in (("--since", "yesterday"), ("--limit", "0")):
        with pytest.raises(SystemExit) as usage:
            vigia("audit", *bad)
        assert usage.value.code == 2
    with engine.connect() as conn:
        assert len(entries(conn)) == 3


# -- check-config ---------------------------------------------------------------------------------


def test_check_config_notes_missing_secrets_without_printing_any(
    config: Path, vigia: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text(
        config.read_text(encoding="utf-8")
        + "alerts: {recipients: [cm@example.com]}\n"
        + "auth: {sso: {server_metadata_url: 'https://id.example.com/.well-known/openid-configuration'}}\n",
        encoding="utf-8",
    )
    for name in (SECRET_ENV, *SSO_ENV):
        monkeypatch.delenv(name, raising=False)
    notes = [line for line in vigia("check-config").out.splitlines() if ": note: " in line]
    assert notes == [
        f"{config}: note: alert e-mails carry no acknowledge link; set VIGIA_SECRET_KEY "
        "(32+ characters) to add one",
        f"{config}: note: auth.sso is configured but not set in the environment: "
        "VIGIA_AUTH_SSO_CLIENT_ID, VIGIA_AUTH_SSO_CLIENT_SECRET, VIGIA_SECRET_KEY",
    ]

    monkeypatch.setenv(SECRET_ENV, "short-secret-value")
    too_short = vigia("check-config")
    assert (too_short.code, too_short.out) == (2, "")
    assert too_short.err.splitlines()[1] == (
        f"{config.name}: VIGIA_SECRET_KEY (environment): must hold at least 32 characters "
        "(e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )
    assert "short-secret-value" not in too_short.err

    secrets = {SECRET_ENV: "x" * 32, SSO_ENV[0]: "client-id-value", SSO_ENV[1]: "client-secret"}
    monkeypatch.setenv(SECRET_ENV, secrets[SECRET_ENV])
    monkeypatch.setenv(SSO_ENV[0], secrets[SSO_ENV[0]])
    assert [line for line in vigia("check-config").out.splitlines() if ": note: " in line] == [
        f"{config}: note: auth.sso is configured but not set in the environment: "
        "VIGIA_AUTH_SSO_CLIENT_SECRET"
    ]
    monkeypatch.setenv(SSO_ENV[1], secrets[SSO_ENV[1]])
    ok = vigia("check-config")
    assert ok.code == 0 and ": note: " not in ok.out
    for value in secrets.values():
        assert value not in ok.out + ok.err
