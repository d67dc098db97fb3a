"""Sign-in before any data, sessions that end, roles checked on the server, the audit trail of
dashboard actions, and the e-mails' signed acknowledge link (AppTest on a seeded database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, sign_in
from tests.dashboard.seed import (
    BRAND,
    HOSTILE_AUTHOR,
    NEWEST_NEGATIVE,
    OTHER_BRAND,
    SOURCES,
    THREAD_ROOT,
)
from vigia.access import accounts, actions
from vigia.access.links import SECRET_ENV, ack_token
from vigia.access.roles import Actor, Forbidden, Role
from vigia.storage import audit
from vigia.storage.schema import alerts, audit_log

SECRET = "a-test-secret-of-at-least-32-characters!"


def everything_sent(at: AppTest) -> str:
    """Every element the run sent to the browser, as protobuf text (labels, values, tables)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if getattr(node, "proto", None) is not None:
            found.append(str(node.proto))
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else ():
            walk(child)

    walk(at._tree)
    return "\n".join(found)


def spike_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(alerts.c.id).where(alerts.c.rule == "negative_spike")
        ).scalar_one()


def state_of(engine: Engine, alert_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(alerts.c.state).where(alerts.c.id == alert_id)).scalar_one()


def trail(engine: Engine) -> list[audit.AuditEntry]:
    with engine.connect() as conn:
        return [e for e in audit.entries(conn) if e.action.startswith("alert.")]


def fresh() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


def test_nothing_but_the_sign_in_form_before_sign_in(seeded: tuple[Path, Engine]) -> None:
    for page in ("views/overview.py", "views/alerts.py", "views/mentions.py", "views/audit.py"):
        at = fresh().run()
        if page != "views/overview.py":
            at.switch_page(page).run()
        assert not at.exception, at.exception
        assert [t.label for t in at.text_input] == ["Usuario (user)", "Contraseña (password)"]
        sent = everything_sent(at)
        for secret in (BRAND, OTHER_BRAND, NEWEST_NEGATIVE, THREAD_ROOT, HOSTILE_AUTHOR, *SOURCES):
            assert secret not in sent, (page, secret)
        assert not at.sidebar.children, page  # no filters, no navigation, no counts


def test_sign_in_shows_the_dashboard_and_sign_out_ends_it(seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    at = sign_in(fresh().run(), "marta")
    assert "Tendencias" in at.title[0].value
    assert any("marta" in c.value for c in at.sidebar.caption)
    at.button(key="sign_out").click().run()
    assert [t.label for t in at.text_input][:2] == ["Usuario (user)", "Contraseña (password)"]
    assert "Has salido" in at.info[0].value
    assert BRAND not in everything_sent(at)
    with engine.connect() as conn:
        (entry,) = [e for e in audit.entries(conn) if e.action == "session.sign_in"]
    assert (entry.actor, entry.after) == ("marta", {"method": "password", "role": "manager"})


def test_wrong_passwords_are_slowed_down(seeded: tuple[Path, Engine]) -> None:
    at = fresh().run()
    for _ in range(2):
        sign_in(at, "marta", "not-her-password")
        assert "Usuario o contraseña incorrectos" in at.error[0].value
    sign_in(at, "marta", "still-not-her-password")  # the third failure starts the back-off
    assert "espera 6 s" in at.error[0].value or "espera 5 s" in at.error[0].value
    # Within the wait even the right password is refused, unchecked.
    sign_in(at, "marta")
    assert "Demasiados intentos" in at.error[0].value
    assert not at.title
    # An unknown name is slowed down the same way (no hint that it does not exist).
    other = fresh().run()
    for _ in range(3):
        sign_in(other, "nobody", "whatever-password")
    assert "Demasiados intentos" in other.error[0].value


def test_a_session_ends_when_idle_or_when_the_account_is_disabled(
    seeded: tuple[Path, Engine],
) -> None:
    _, engine = seeded
    at = sign_in(fresh().run(), "marta")
    session = at.session_state["vigia_session"]
    at.session_state["vigia_session"] = dataclasses.replace(
        session, last_seen_at=session.last_seen_at - timedelta(hours=2)
    )
    at.run()
    assert "Tu sesión ha caducado" in at.info[0].value and not at.title

    sign_in(at, "marta")
    assert at.title
    accounts.disable_user(engine, Actor("ada", Role.ADMIN, "cli"), "marta", datetime.now(UTC))
    at.run()
    assert "ya no tiene acceso" in at.info[0].value and not at.title
    sign_in(at, "marta")  # a disabled account cannot sign in again
    assert "Usuario o contraseña incorrectos" in at.error[0].value


def test_a_viewer_reads_but_cannot_change_alerts(seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    alert_id = spike_id(engine)
    at = sign_in(fresh().run(), "victor")
    at.switch_page("views/alerts.py").run()
    assert "Pico de menciones negativas" in "\n".join(m.value for m in at.markdown)
    assert not [b for b in at.button if b.key and b.key.startswith(("ack-", "resolve-", "resend-"))]
    # Managers' pages are not served to a viewer: not even registered for this session.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/audit.py")
    # The check is on the server: the action itself refuses a viewer, and records nothing.
    viewer = Actor("victor", Role.VIEWER, "dashboard")
    with pytest.raises(Forbidden, match="needs the manager role"):
        actions.change_alert_state(engine, viewer, alert_id, "acknowledged", datetime.now(UTC))
    assert state_of(engine, alert_id) == "open" and trail(engine) == []


def test_acknowledging_on_the_dashboard_is_audited_with_the_user(
    seeded: tuple[Path, Engine],
) -> None:
    _, engine = seeded
    alert_id = spike_id(engine)
    at = sign_in(fresh().run(), "marta")
    at.switch_page("views/alerts.py").run()
    at.button(key=f"ack-{alert_id}").click().run()
    assert state_of(engine, alert_id) == "acknowledged"
    (entry,) = trail(engine)
    assert (entry.actor, entry.via, entry.action, entry.target) == (
        "marta",
        "dashboard",
        "alert.acknowledge",
        f"alert {alert_id}",
    )
    assert (entry.before, entry.after) == ({"state": "open"}, {"state": "acknowledged"})
    # Managers read it on the Auditoría page.
    at.switch_page("views/audit.py").run()
    table = at.dataframe[0].value
    assert list(table["actor"][:1]) == ["marta"] and "open → acknowledged" in table["change"][0]


def ack_link_page(monkeypatch: pytest.MonkeyPatch, alert_id: int, token: str, user: str) -> AppTest:
    """The Alertas page opened from an e-mail's acknowledge link, after signing in as `user`."""
    at = fresh()
    at.query_params.update({"id": str(alert_id), "ack": token})
    sign_in(at.run(), user)
    at.switch_page("views/alerts.py").run()
    assert not at.exception, at.exception
    return at


def test_the_email_acknowledge_link_acknowledges_as_the_signed_in_user(
    seeded: tuple[Path, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine = seeded
    monkeypatch.setenv(SECRET_ENV, SECRET)
    alert_id = spike_id(engine)
    token = ack_token(SECRET.encode(), alert_id, datetime.now(UTC) + timedelta(days=1))
    at = ack_link_page(monkeypatch, alert_id, token, "marta")
    assert f"Alerta #{alert_id} reconocida por marta" in at.success[0].value
    assert "ack" not in at.query_params  # done once: a rerun does not act again
    assert state_of(engine, alert_id) == "acknowledged"
    (entry,) = trail(engine)
    assert (entry.actor, entry.via, entry.action) == ("marta", "email-link", "alert.acknowledge")


@pytest.mark.parametrize(
    ("user", "tamper", "expected"),
    [
        ("victor", False, "no puede reconocer alertas"),
        ("marta", True, "not valid for this alert"),
    ],
)
def test_the_acknowledge_link_is_refused_for_a_viewer_or_a_forged_token(
    seeded: tuple[Path, Engine],
    monkeypatch: pytest.MonkeyPatch,
    user: str,
    tamper: bool,
    expected: str,
) -> None:
    _, engine = seeded
    monkeypatch.setenv(SECRET_ENV, SECRET)
    alert_id = spike_id(engine)
    token = ack_token(
        SECRET.encode(), alert_id + (1 if tamper else 0), datetime.now(UTC) + timedelta(days=1)
    )
    at = ack_link_page(monkeypatch, alert_id, token, user)
    shown = "\n".join(e.value for e in [*at.error, *at.warning])
    assert expected in shown
    assert state_of(engine, alert_id) == "open" and trail(engine) == []


def test_an_expired_acknowledge_link_is_refused(
    seeded: tuple[Path, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine = seeded
    monkeypatch.setenv(SECRET_ENV, SECRET)
    alert_id = spike_id(engine)
    token = ack_token(SECRET.encode(), alert_id, datetime.now(UTC) - timedelta(minutes=1))
    at = ack_link_page(monkeypatch, alert_id, token, "marta")
    assert "expired" in at.error[0].value
    assert state_of(engine, alert_id) == "open"


def test_an_admin_manages_users_on_the_dashboard(seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    at = sign_in(fresh().run(), "ada")
    at.switch_page("views/users.py").run()
    assert set(at.dataframe[0].value["name"]) == {"ada", "marta", "victor"}
    at.text_input[0].input("nora")
    at.text_input[2].input("nora-atiende-2026")
    at.selectbox[0].set_value("agent")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "nora" in set(at.dataframe[0].value["name"])
    with engine.connect() as conn:
        (entry,) = [e for e in audit.entries(conn) if e.action == "user.add"
                    and e.actor == "ada"]  # fmt: skip
        count = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    assert entry.after["role"] == "agent" and count >= 2
    # A manager does not get the page.
    manager = sign_in(fresh().run(), "marta")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        manager.switch_page("views/users.py")
