"""Local accounts and the per-name count of failed sign-ins, as rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from timeutil import naive_utc, utc
from vigia.storage.engine import upsert
from vigia.storage.schema import sign_in_failures, users


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    email: str | None
    role: str
    password_hash: str
    created_at: datetime  # aware UTC
    password_changed_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


def _user(row: Any) -> UserRow:
    return UserRow(
        id=row.id,
        name=row.name,
        email=row.email,
        role=row.role,
        password_hash=row.password_hash,
        created_at=utc(row.created_at),
        password_changed_at=utc(row.password_changed_at),
        disabled_at=utc(row.disabled_at) if row.disabled_at else None,
    )


def get_user(conn: Connection, name: str) -> UserRow | None:
    """The account called `name`, compared case-insensitively."""
    row = conn.execute(select(users).where(func.lower(users.c.name) == name.lower())).first()
    return _user(row) if row else None


def get_user_by_email(conn: Connection, email: str) -> UserRow | None:
    row = conn.execute(select(users).where(func.lower(users.c.email) == email.lower())).first()
    return _user(row) if row else None


def all_users(conn: Connection) -> list[UserRow]:
    return [_user(row) for row in conn.execute(select(users).order_by(users.c.name))]


def insert_user(
    conn: Connection, name: str, role: str, password_hash: str, email: str | None, now: datetime
) -> UserRow:
    moment = naive_utc(now)
    conn.execute(
        insert(users).values(
            name=name,
            email=email,
            role=role,
            password_hash=password_hash,
            created_at=moment,
            password_changed_at=moment,
        )
    )
    found = get_user(conn, name)
    assert found is not None
    return found


def update_user(conn: Connection, user_id: int, **values: Any) -> None:
    """Set columns of one account (datetimes given aware, stored naive UTC)."""
    stored = {k: naive_utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
    conn.execute(update(users).where(users.c.id == user_id).values(stored))


def failures_of(conn: Connection, name: str) -> tuple[int, datetime | None]:
    """Failed sign-ins in a row for the name typed, and when the last one was."""
    row = conn.execute(
        select(sign_in_failures).where(sign_in_failures.c.name == name.casefold())
    ).first()
    return (row.failures, utc(row.last_failed_at)) if row else (0, None)


def add_failure(conn: Connection, name: str, now: datetime) -> None:
    f = sign_in_failures.c
    conn.execute(
        upsert(conn, sign_in_failures)
        .values(name=name.casefold(), failures=1, last_failed_at=naive_utc(now))
        .on_conflict_do_update(
            index_elements=[f.name],
            set_={"failures": f.failures + 1, "last_failed_at": naive_utc(now)},
        )
    )


def clear_failures(conn: Connection, name: str) -> None:
    conn.execute(delete(sign_in_failures).where(sign_in_failures.c.name == name.casefold()))
