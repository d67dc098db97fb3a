"""Managing local accounts: add, change role, disable, enable, set a password; each audited."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Connection, Engine

from vigia.access.passwords import hash_password
from vigia.access.roles import Actor, Permission, Role
from vigia.storage import audit
from vigia.storage.users import (
    UserRow,
    all_users,
    get_user,
    get_user_by_email,
    insert_user,
    update_user,
)

# No "@": single sign-on users are named by their e-mail, and must never match a local account.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _summary(user: UserRow) -> dict[str, object]:
    return {
        "role": user.role,
        "email": user.email,
        "active": user.active,
    }


def _existing(conn: Connection, name: str) -> UserRow:
    user = get_user(conn, name)
    if user is None:
        raise KeyError(f"no user called {name!r}")
    return user


def add_user(
    engine: Engine,
    actor: Actor,
    name: str,
    role: Role | str,
    password: str,
    now: datetime,
    email: str | None = None,
) -> UserRow:
    """Create an account. ValueError for a bad name, e-mail or password, or a taken name."""
    actor.require(Permission.MANAGE_USERS)
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a user name: letters, digits and . _ + - (at most 100)")
    if email is not None and not _EMAIL.match(email):
        raise ValueError(f"{email!r} is not an e-mail address")
    role = Role(role)
    password_hash = hash_password(password)
    with engine.begin() as conn:
        if get_user(conn, name) is not None:
            raise ValueError(f"a user called {name!r} exists already")
        owner = get_user_by_email(conn, email) if email is not None else None
        if owner is not None:
            raise ValueError(f"{email!r} is the e-mail of user {owner.name} already")
        user = insert_user(conn, name, role.value, password_hash, email, now)
        audit.record(
            conn,
            actor=actor.name,
            via=actor.via,
            action="user.add",
            target=f"user {user.name}",
            before={},
            after=_summary(user),
            at=now,
        )
    return user


def _change(
    engine: Engine, actor: Actor, name: str, action: str, now: datetime, **values: object
) -> UserRow:
    """Update one account and audit what changed (the caller has checked the actor's role)."""
    with engine.begin() as conn:
        before = _existing(conn, name)
        update_user(conn, before.id, **values)
        after = _existing(conn, name)
        changed_before = {k: v for k, v in _summary(before).items() if _summary(after)[k] != v}
        changed_after = {k: _summary(after)[k] for k in changed_before}
        if action == "user.passwd":
            changed_before, changed_after = {"password": "(old)"}, {"password": "(new)"}
        audit.record(
            conn,
            actor=actor.name,
            via=actor.via,
            action=action,
            target=f"user {after.name}",
            before=changed_before,
            after=changed_after,
            at=now,
        )
    return after


def set_role(engine: Engine, actor: Actor, name: str, role: Role | str, now: datetime) -> UserRow:
    actor.require(Permission.MANAGE_USERS)
    return _change(engine, actor, name, "user.role", now, role=Role(role).value)


def disable_user(engine: Engine, actor: Actor, name: str, now: datetime) -> UserRow:
    """Disable an account: it cannot sign in, and its open dashboard sessions end."""
    actor.require(Permission.MANAGE_USERS)
    return _change(engine, actor, name, "user.disable", now, disabled_at=now)


def enable_user(engine: Engine, actor: Actor, name: str, now: datetime) -> UserRow:
    actor.require(Permission.MANAGE_USERS)
    return _change(engine, actor, name, "user.enable", now, disabled_at=None)


def set_password(engine: Engine, actor: Actor, name: str, password: str, now: datetime) -> UserRow:
    """A new password (admins for anyone; everyone for themselves); open sessions end."""
    if actor.name.lower() != name.lower():
        actor.require(Permission.MANAGE_USERS)
    return _change(
        engine, actor, name, "user.passwd", now,
        password_hash=hash_password(password), password_changed_at=now,
    )  # fmt: skip


def list_users(engine: Engine, actor: Actor) -> list[UserRow]:
    actor.require(Permission.MANAGE_USERS)
    with engine.connect() as conn:
        return all_users(conn)
