"""The dashboard's sign-in gate: who is signed in, for how long, and the sign-in form.

A password session lives in the tab's Streamlit session and in the database, found again after
a page reload through a cookie (see session_cookie). It ends after `auth.idle_timeout` without
use, at the latest `auth.session_lifetime` after sign-in, at sign-out, and at once when the
account is disabled or its password changes. Single sign-on (st.login, with its own cookie) and
a trusted reverse proxy give sessions too, by e-mail.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import UTC, datetime

import streamlit as st
from streamlit import runtime
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import data, session_cookie
from vigia.access.identity import proxy_email, role_for_email
from vigia.access.roles import Actor, Permission, Role
from vigia.access.sessions import Session, local_account_allows, token_hash
from vigia.access.signin import sign_in
from vigia.storage import audit
from vigia.storage.dashboard_sessions import (
    delete_finished_sessions,
    end_session,
    find_session,
    open_session,
    touch_session,
)
from vigia.storage.users import get_user, get_user_by_email

SESSION_KEY = "vigia_session"
NOTICE_KEY = "vigia_signin_notice"
# Set by the auto-refresh before it reruns the app: a refresh is not someone using the session.
AUTO_RERUN_KEY = "vigia_auto_rerun"
SSO_PROVIDER = "vigia"

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _record_sign_in(session: Session) -> None:
    with data.engine().begin() as conn:
        audit.record(
            conn,
            actor=session.name,
            via="dashboard",
            action="session.sign_in",
            target=f"user {session.name}",
            before={},
            after={"method": session.method, "role": session.role.value},
            at=session.started_at,
        )


def _start(name: str, role: Role, method: str) -> Session:
    now = _now()
    session = Session(name, role, method, now, now)
    if method == "password":
        token = secrets.token_urlsafe(32)
        session = replace(session, token_hash=token_hash(token))
        with data.engine().begin() as conn:
            delete_finished_sessions(conn, now - data.settings().auth.idle_timeout)
            open_session(conn, token_hash(token), name, now)
        session_cookie.remember(token, data.settings().auth.session_lifetime)
    st.session_state[SESSION_KEY] = session
    _record_sign_in(session)
    return session


def _end(session: Session, notice: str | None) -> None:
    st.session_state.pop(SESSION_KEY, None)
    if session.token_hash is not None:
        with data.engine().begin() as conn:
            end_session(conn, session.token_hash, _now())
        session_cookie.forget()
    if notice:
        st.session_state[NOTICE_KEY] = notice
    if session.method == "sso":  # else st.user would sign the tab straight back in
        st.logout()


def _role_now(session: Session) -> Role | None:
    """The session's role as the database and config say now; None: the session must end."""
    with data.engine().connect() as conn:
        if session.method == "password":
            return local_account_allows(session, get_user(conn, session.name))
        account = get_user_by_email(conn, session.name)
    return role_for_email(session.name, data.settings().auth, account)


def _has_expired(session: Session) -> bool:
    auth = data.settings().auth
    return session.expiry(auth.session_lifetime, auth.idle_timeout) <= _now()


def expired() -> bool:
    """The tab's session has run out (checked by the auto-refresh, which then reruns the app)."""
    session = st.session_state.get(SESSION_KEY)
    return isinstance(session, Session) and _has_expired(session)


def _from_cookie() -> Session | None:
    """The password session the browser's cookie names, after a page reload or in a new tab."""
    token = session_cookie.token()
    if token is None:
        return None
    with data.engine().connect() as conn:
        row = find_session(conn, token_hash(token))
    if row is None:
        return None
    return Session(
        row.user_name, Role.VIEWER, "password", row.started_at, row.last_seen_at, token_hash(token)
    )


def _valid_session() -> Session | None:
    """The tab's session (or the one its cookie names), renewed; None when there is none or it
    has ended (then with a notice)."""
    session = st.session_state.get(SESSION_KEY)
    if not isinstance(session, Session):
        session = _from_cookie()
        if session is None:
            return None
    if _has_expired(session):
        _end(session, "Tu sesión ha caducado; vuelve a entrar. (Session expired.)")
        return None
    role = _role_now(session)
    if role is None:
        _end(session, "Tu cuenta ya no tiene acceso. (Account disabled or changed.)")
        return None
    used = not st.session_state.pop(AUTO_RERUN_KEY, False)
    renewed = session.seen(_now() if used else session.last_seen_at, role)
    if session.token_hash and used:  # one small write per click: the session's last use
        with data.engine().begin() as conn:
            touch_session(conn, session.token_hash, renewed.last_seen_at)
    st.session_state[SESSION_KEY] = renewed
    return renewed


def _client_address() -> str | None:
    """The address this tab's connection comes from (a reverse proxy's, behind one).

    Not st.context.ip_address: it says None for 127.0.0.1 and ::1, where a proxy on this
    machine connects from (the only place one can while dashboard.address is 127.0.0.1).
    """
    ctx = get_script_run_ctx()
    client = runtime.get_instance().get_client(ctx.session_id) if ctx and runtime.exists() else None
    context = client.client_context if client is not None else None
    return context.remote_ip if context is not None else None


def _external_session() -> Session | None:
    """A session vouched for by the trusted reverse proxy or by single sign-on, if any."""
    auth = data.settings().auth
    email = None
    method = ""
    if auth.proxy is not None:
        email = proxy_email(dict(st.context.headers), _client_address(), auth.proxy)
        method = "proxy"
    if email is None and auth.sso is not None and st.user.is_logged_in:
        email = str(st.user.get("email") or "")
        method = "sso"
    if not email:
        return None
    with data.engine().connect() as conn:
        role = role_for_email(email, auth, get_user_by_email(conn, email))
    if role is None:
        st.error(
            f"{data.md_escape(email)} no tiene acceso a Vigía: pide a un administrador que le "
            "asigne un rol (auth.roles_by_email). (No role for this e-mail.)",
            icon=":material/block:",
        )
        if method == "sso":
            st.button("Salir (sign out)", on_click=st.logout)
        st.stop()
    return _start(email.casefold(), role, method)


def _sign_in_form() -> None:
    """The form, the single sign-on button if configured, and the last attempt's outcome."""
    with st.columns([1, 2, 1])[1]:  # centred on a wide screen; stacked full width on a phone
        _form_column()


def _form_column() -> None:
    st.markdown("## :material/radar: Vigía")
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.info(notice, icon=":material/lock_clock:")
    sso = data.settings().auth.sso
    with st.form("sign_in", border=True):
        st.markdown("#### Entrar (sign in)")
        name = st.text_input("Usuario (user)", autocomplete="username")
        password = st.text_input(
            "Contraseña (password)", type="password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Entrar", type="primary", icon=":material/login:")
    if sso is not None:
        st.button(
            f"Entrar con {sso.label}",
            icon=":material/key:",
            on_click=st.login,
            args=(SSO_PROVIDER,),
        )
    if not submitted:
        return
    result = sign_in(data.engine(), name, password, _now())
    if result.user is not None:
        _start(result.user.name, Role(result.user.role), "password")
        st.rerun()
    if result.wait:
        seconds = int(result.wait.total_seconds()) + 1
        st.error(
            f"Demasiados intentos fallidos: espera {seconds} s antes de volver a probar. "
            f"(Too many failed attempts: wait {seconds} s.)",
            icon=":material/hourglass_top:",
        )
    else:
        st.error(
            "Usuario o contraseña incorrectos. (Wrong user name or password.)",
            icon=":material/error:",
        )


def gate(pages: list[StreamlitPage]) -> Session:
    """The signed-in session; otherwise show the sign-in form and stop the run, so nothing
    after this call (no mention, author or alert) is computed or sent to the browser.

    Before sign-in the navigation is registered hidden and no page runs: the address asked for
    (an e-mail's /alerts?id=N&ack=...) stays in the browser and opens once signed in.
    """
    session = _valid_session() or _external_session()
    session_cookie.write_pending()
    if session is not None:
        return session
    st.navigation(pages, position="hidden")
    _sign_in_form()
    st.stop()


def current() -> Session:
    """The session of this run (pages run only after app.py's gate let them)."""
    session = st.session_state.get(SESSION_KEY)
    if not isinstance(session, Session):
        st.stop()
    return session


def may(permission: Permission) -> bool:
    return current().actor().may(permission)


def sign_out() -> None:
    session = st.session_state.get(SESSION_KEY)
    if not isinstance(session, Session):
        return
    _end(session, "Has salido. (Signed out.)")


def require(permission: Permission) -> Actor:
    """The signed-in actor if their role holds `permission`; else a notice, and the page stops."""
    actor = current().actor()
    if not actor.may(permission):
        st.error(
            f"Tu rol ({actor.role.value}) no permite {permission.value}. "
            "(Your role does not allow this page.)",
            icon=":material/block:",
        )
        st.stop()
    return actor
