"""The team-access core on a real SQLite file: roles, sign-in back-off, sessions, single sign-on
and proxy identity, signed acknowledge links, and the audit rows every change writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine, func, select

from tests.vigia.test_retention import item, rows, store
from vigia.access.accounts import (
    add_user,
    disable_user,
    enable_user,
    list_users,
    set_password,
    set_role,
)
from vigia.access.actions import author_digest, change_alert_state, forget, resend
from vigia.access.identity import proxy_email, role_for_email
from vigia.access.links import SECRET_ENV, LinkError, ack_url, check_ack_token, secret_key
from vigia.access.roles import Actor, Forbidden, Permission, Role
from vigia.access.sessions import Session, local_account_allows
from vigia.access.signin import MAX_WAIT, backoff, sign_in
from vigia.config import AuthConfig, ProxyAuthConfig
from vigia.storage import audit, connect
from vigia.storage.alerts import get_alert, insert_alert, plan_notification, record_uncertain
from vigia.storage.schema import users
from vigia.storage.users import UserRow, failures_of, get_user

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
PASSWORD = "correct horse battery"
ADMIN = Actor("shell:test", Role.ADMIN, "cli")
SECRET = "k" * 40


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = connect(f"sqlite:///{tmp_path / 'vigia.db'}")
    yield engine
    engine.dispose()


def trail(engine: Engine) -> list[audit.AuditEntry]:
    """The audit trail, oldest first."""
    with engine.connect() as conn:
        return audit.entries(conn)[::-1]


def user(engine: Engine, name: str) -> UserRow:
    with engine.connect() as conn:
        found = get_user(conn, name)
    assert found is not None
    return found


def new_alert(engine: Engine) -> int:
    with engine.begin() as conn:
        row = insert_alert(
            conn, key="spike:Vellora", rule="negative_spike", brand="Vellora", subject="Vellora",
            severity="warning", window_start=T0 - timedelta(hours=1), window_end=T0,
            evidence={"negative": 12}, now=T0,
        )  # fmt: skip
    assert row is not None
    return row.id


# -- roles --------------------------------------------------------------------------------------


def test_each_role_may_do_what_the_ones_before_it_may() -> None:
    assert [r.rank for r in (Role.VIEWER, Role.AGENT, Role.MANAGER, Role.ADMIN)] == [0, 1, 2, 3]
    viewer, manager = Actor("v", Role.VIEWER, "cli"), Actor("m", Role.MANAGER, "dashboard")
    assert viewer.may(Permission.READ) and not viewer.may(Permission.WORK_INBOX)
    assert manager.may(Permission.WORK_INBOX) and manager.may(Permission.READ_AUDIT)
    assert not manager.may(Permission.ERASE) and ADMIN.may(Permission.MANAGE_USERS)
    manager.require(Permission.MANAGE_ALERTS)
    with pytest.raises(Forbidden, match=r"^v \(viewer\) may not .*needs the manager role"):
        viewer.require(Permission.MANAGE_ALERTS)
    assert issubclass(Forbidden, PermissionError)


# -- signing in -------------------------------------------------------------------------------


def test_back_off_after_three_failures_doubles_to_its_cap_and_a_success_clears_it(
    engine: Engine,
) -> None:
    add_user(engine, ADMIN, "ana", Role.MANAGER, PASSWORD, T0)
    now = T0
    free = [sign_in(engine, "ana", "wrong password", now) for _ in range(2)]
    assert [r.wait for r in free] == [timedelta(0)] * 2 and all(r.user is None for r in free)

    waits = []
    for _ in range(10):  # each wrong attempt made as soon as it is allowed
        result = sign_in(engine, "ana", "wrong password", now)
        assert result.user is None
        waits.append(result.wait)
        now += result.wait
    assert [w.total_seconds() for w in waits] == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900]

    # During the wait even the right password is refused, unchecked and not counted.
    early = sign_in(engine, "ANA", PASSWORD, now - 10 * SECOND)
    assert early.user is None and early.wait == 10 * SECOND
    with engine.connect() as conn:
        assert failures_of(conn, "ana") == (12, now - MAX_WAIT)

    assert sign_in(engine, "ana", PASSWORD, now).user == user(engine, "ana")
    with engine.connect() as conn:
        assert failures_of(conn, "ana") == (0, None)
    assert sign_in(engine, "ana", "wrong again", now).wait == timedelta(0), "counting anew"


def test_back_off_stays_at_its_cap_however_long_the_attack() -> None:
    # 2**44 × 5 s would overflow timedelta: the wait must stay at MAX_WAIT, not raise.
    assert backoff(3, T0, T0) == timedelta(seconds=5)
    for failures in (47, 60, 10_000):
        assert backoff(failures, T0, T0) == MAX_WAIT


def test_unknown_and_disabled_accounts_fail_like_a_wrong_password(engine: Engine) -> None:
    add_user(engine, ADMIN, "ana", Role.AGENT, PASSWORD, T0)
    add_user(engine, ADMIN, "bob", Role.AGENT, PASSWORD, T0)
    disable_user(engine, ADMIN, "bob", T0)
    wrong = sign_in(engine, "ana", "not the password", T0)
    for name in ("nobody", "bob"):
        assert sign_in(engine, name, PASSWORD, T0) == wrong
    with engine.connect() as conn:
        assert [failures_of(conn, n)[0] for n in ("ana", "nobody", "bob")] == [1, 1, 1]
    enable_user(engine, ADMIN, "bob", T0)
    assert sign_in(engine, "bob", PASSWORD, T0).user is not None


def test_a_password_change_a_disabled_account_or_a_new_role_reach_open_sessions(
    engine: Engine,
) -> None:
    add_user(engine, ADMIN, "ana", Role.MANAGER, PASSWORD, T0)
    session = Session("ana", Role.MANAGER, "password", T0 + SECOND, T0 + SECOND)
    assert local_account_allows(session, user(engine, "ana")) is Role.MANAGER
    set_role(engine, ADMIN, "ana", Role.AGENT, T0 + 2 * SECOND)
    assert local_account_allows(session, user(engine, "ana")) is Role.AGENT

    set_password(engine, ADMIN, "ana", "another good one", T0 + 3 * SECOND)
    assert local_account_allows(session, user(engine, "ana")) is None
    later = Session("ana", Role.AGENT, "password", T0 + 4 * SECOND, T0 + 4 * SECOND)
    assert local_account_allows(later, user(engine, "ana")) is Role.AGENT
    disable_user(engine, ADMIN, "ana", T0 + 5 * SECOND)
    assert local_account_allows(later, user(engine, "ana")) is None
    assert local_account_allows(later, None) is None


# -- single sign-on and proxy identity ------------------------------------------------------------


def account(email: str | None, role: str = "agent", disabled: bool = False) -> UserRow:
    return UserRow(1, "eve", email, role, "hash", T0, T0, T0 if disabled else None)


def test_role_for_email_exact_then_domain_then_local_account() -> None:
    auth = AuthConfig(roles_by_email={"Boss@Example.com": "admin", "*@example.com": "viewer"})
    assert role_for_email(" boss@EXAMPLE.com", auth, None) is Role.ADMIN
    assert role_for_email("ana@example.com", auth, None) is Role.VIEWER
    assert role_for_email("ana@sub.example.com", auth, None) is None, "no subdomains"
    assert role_for_email("ana@example.com.evil.org", auth, None) is None
    assert role_for_email("Eve@Other.org", auth, account("eve@other.org")) is Role.AGENT
    assert role_for_email("eve@other.org", auth, account("eve@other.org", disabled=True)) is None
    assert role_for_email("eve@other.org", auth, account("someone@other.org")) is None
    assert role_for_email("eve@other.org", auth, None) is None
    # The configuration wins over a local account's role.
    assert role_for_email("ana@example.com", auth, account("ana@example.com", "admin")) is (
        Role.VIEWER
    )


def test_proxy_email_is_believed_only_from_trusted_addresses() -> None:
    proxy = ProxyAuthConfig(trusted=["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"])
    header = {"x-forwarded-email": "ana@example.com"}
    for trusted in ("127.0.0.1", "10.20.30.40", "::1", "fd12::7"):
        assert proxy_email(header, trusted, proxy) == "ana@example.com", trusted
    for untrusted in ("192.168.1.5", "11.0.0.1", "2001:db8::1", "::2", None, "", "proxy.local"):
        assert proxy_email(header, untrusted, proxy) is None, untrusted
    assert proxy_email({}, "127.0.0.1", proxy) is None
    assert proxy_email({"X-Forwarded-Email": "not an address"}, "127.0.0.1", proxy) is None
    other = ProxyAuthConfig(header="Remote-Email", trusted=["127.0.0.1"])
    assert proxy_email(header, "127.0.0.1", other) is None
    assert proxy_email({"REMOTE-EMAIL": " bo@x.org "}, "127.0.0.1", other) == "bo@x.org"


# -- acknowledge links ----------------------------------------------------------------------------


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["ack"][0]


def test_an_ack_link_is_valid_for_its_alert_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    url = ack_url("https://vigia.example", 7, T0, timedelta(days=3))
    assert url is not None and url.startswith("https://vigia.example/alerts?id=7&ack=")
    token = token_of(url)
    check_ack_token(token, 7, T0 + timedelta(days=3))
    with pytest.raises(LinkError, match="expired"):
        check_ack_token(token, 7, T0 + timedelta(days=3) + SECOND)
    with pytest.raises(LinkError, match="not valid"):
        check_ack_token(token, 8, T0)
    stamp, signature = token.split(".")
    tampered = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for forged in (f"{stamp}.{tampered}", f"{int(stamp) + 86400}.{signature}"):
        with pytest.raises(LinkError, match="not valid"):
            check_ack_token(forged, 7, T0)
    monkeypatch.setenv(SECRET_ENV, "z" * 40)
    with pytest.raises(LinkError, match="not valid"):
        check_ack_token(token, 7, T0)


@pytest.mark.parametrize("token", ["", "abc", "12", ".sig", "x1.sig", "1" * 13 + ".sig", "²3.sig",
                                   "123.sïg"])  # fmt: skip
def test_a_malformed_ack_token_is_a_link_error(monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with pytest.raises(LinkError):
        check_ack_token(token, 7, T0)


def test_ack_links_need_a_long_enough_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    token = token_of(ack_url("https://vigia.example", 7, T0, timedelta(days=3)) or "")
    monkeypatch.delenv(SECRET_ENV)
    assert secret_key() is None and ack_url("https://vigia.example", 7, T0, SECOND) is None
    with pytest.raises(LinkError, match="not set"):
        check_ack_token(token, 7, T0)
    monkeypatch.setenv(SECRET_ENV, "k" * 31)
    with pytest.raises(ValueError, match="at least 32 characters") as refused:
        secret_key()
    assert "k" * 31 not in str(refused.value)
    with pytest.raises(ValueError):
        ack_url("https://vigia.example", 7, T0, SECOND)


# -- the audit trail ------------------------------------------------------------------------------


def test_account_changes_are_audited_with_before_and_after(engine: Engine) -> None:
    add_user(engine, ADMIN, "ana", "agent", PASSWORD, T0, email="ana@example.com")
    set_role(engine, ADMIN, "ana", "manager", T0 + SECOND)
    disable_user(engine, ADMIN, "ana", T0 + 2 * SECOND)
    enable_user(engine, ADMIN, "ana", T0 + 3 * SECOND)
    set_password(engine, ADMIN, "ana", "a new good password", T0 + 4 * SECOND)
    assert [(e.actor, e.via, e.action, e.target, e.before, e.after) for e in trail(engine)] == [
        ("shell:test", "cli", "user.add", "user ana", {},
         {"role": "agent", "email": "ana@example.com", "active": True}),
        ("shell:test", "cli", "user.role", "user ana", {"role": "agent"}, {"role": "manager"}),
        ("shell:test", "cli", "user.disable", "user ana", {"active": True}, {"active": False}),
        ("shell:test", "cli", "user.enable", "user ana", {"active": False}, {"active": True}),
        ("shell:test", "cli", "user.passwd", "user ana", {"password": "(old)"},
         {"password": "(new)"}),
    ]  # fmt: skip
    assert [e.at for e in trail(engine)] == [T0 + n * SECOND for n in range(5)]
    assert "$argon2" not in repr(trail(engine))


def test_bad_input_is_refused_before_anything_is_written(engine: Engine) -> None:
    add_user(engine, ADMIN, "ana", "agent", PASSWORD, T0, email="ana@example.com")
    for name, email, password, problem in (
        ("ANA", None, PASSWORD, "exists already"),
        ("bob", "Ana@Example.com", PASSWORD, "e-mail of user ana"),
        ("bob", "not-an-address", PASSWORD, "not an e-mail"),
        ("bob smith", None, PASSWORD, "not a user name"),
        ("bob", None, "short", "at least 10"),
    ):
        with pytest.raises(ValueError, match=problem):
            add_user(engine, ADMIN, name, "viewer", password, T0, email=email)
    with pytest.raises(KeyError):
        set_role(engine, ADMIN, "nobody", "admin", T0)
    with pytest.raises(ValueError):
        set_role(engine, ADMIN, "ana", "owner", T0)
    assert [u.name for u in list_users(engine, ADMIN)] == ["ana"]
    assert len(trail(engine)) == 1


def test_alert_moves_resends_and_erasures_are_audited(engine: Engine) -> None:
    alert_id = new_alert(engine)
    manager = Actor("mia", Role.MANAGER, "dashboard")
    change_alert_state(engine, manager, alert_id, "acknowledged", T0)
    change_alert_state(engine, manager, alert_id, "acknowledged", T0 + SECOND)  # no change
    change_alert_state(engine, manager, alert_id, "resolved", T0 + 2 * SECOND)
    change_alert_state(engine, manager, alert_id, "open", T0 + 3 * SECOND)
    with engine.begin() as conn:
        plan_notification(
            conn, alert_id, [("email", "cm@example.com")], severity="warning", reason="new",
            now=T0,
        )  # fmt: skip
        delivery_id = conn.exec_driver_sql("SELECT id FROM alert_deliveries").scalar_one()
        record_uncertain(conn, delivery_id, T0, "timed out after DATA")
    resend(engine, manager, delivery_id, T0 + 4 * SECOND)
    store(engine, [item(1, T0, author="Ana"), item(2, T0, author="Bob")], collected=T0)
    forget(engine, ADMIN, "ANA", None, T0 + 5 * SECOND)

    entries = trail(engine)
    assert [(e.actor, e.via, e.action, e.target, e.before, e.after) for e in entries[:4]] == [
        ("mia", "dashboard", "alert.acknowledge", f"alert {alert_id}",
         {"state": "open"}, {"state": "acknowledged"}),
        ("mia", "dashboard", "alert.resolve", f"alert {alert_id}",
         {"state": "acknowledged"}, {"state": "resolved"}),
        ("mia", "dashboard", "alert.reopen", f"alert {alert_id}",
         {"state": "resolved"}, {"state": "open"}),
        ("mia", "dashboard", "alert.resend", f"alert {alert_id}",
         {"delivery": delivery_id, "state": "uncertain"},
         {"delivery": delivery_id, "state": "due"}),
    ]  # fmt: skip
    erased = entries[4]
    assert (erased.action, erased.target) == ("author.forget", f"author {author_digest('ana')}")
    assert erased.before == {"mentions": 1} and erased.after["mentions"] == 0
    assert "ana" not in f"{erased.target} {erased.before} {erased.after}".lower()
    assert [author for author, _ in rows(engine).values()] == ["Bob"]


def test_a_forbidden_action_changes_nothing_and_is_not_audited(engine: Engine) -> None:
    alert_id = new_alert(engine)
    add_user(engine, ADMIN, "vic", "viewer", PASSWORD, T0)
    store(engine, [item(1, T0, author="Ana")], collected=T0)
    before = trail(engine)
    viewer = Actor("vic", Role.VIEWER, "dashboard")
    manager = Actor("mia", Role.MANAGER, "cli")
    refused = [
        lambda: change_alert_state(engine, viewer, alert_id, "acknowledged", T0),
        lambda: resend(engine, viewer, 1, T0),
        lambda: forget(engine, manager, "Ana", None, T0),
        lambda: add_user(engine, manager, "bob", "admin", PASSWORD, T0),
        lambda: set_role(engine, manager, "vic", "admin", T0),
        lambda: disable_user(engine, manager, "vic", T0),
        lambda: set_password(engine, manager, "vic", "mine now, hello", T0),
        lambda: list_users(engine, manager),
    ]
    for attempt in refused:
        with pytest.raises(Forbidden):
            attempt()
    with engine.connect() as conn:
        alert = get_alert(conn, alert_id)
        assert conn.execute(select(func.count()).select_from(users)).scalar_one() == 1
    assert alert is not None and alert.state.value == "open"
    assert user(engine, "vic").role == "viewer" and user(engine, "vic").active
    assert [a for a, _ in rows(engine).values()] == ["Ana"]
    assert trail(engine) == before

    # Anyone may change their own password.
    set_password(engine, viewer, "VIC", "my own new password", T0 + SECOND)
    assert trail(engine)[-1].actor == "vic" and trail(engine)[-1].action == "user.passwd"
