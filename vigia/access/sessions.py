"""A dashboard session: who signed in, how, and whether the session still holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from vigia.access.roles import Actor, Role
from vigia.storage.users import UserRow


@dataclass(frozen=True)
class Session:
    """`name` is a local user's name, or the e-mail of a single sign-on or proxy user."""

    name: str
    role: Role
    method: str  # "password", "sso" or "proxy"
    started_at: datetime
    last_seen_at: datetime

    def actor(self, via: str = "dashboard") -> Actor:
        return Actor(self.name, self.role, via)

    def expiry(self, lifetime: timedelta, idle: timedelta) -> datetime:
        """When the session ends unless used again: `idle` after its last use, and at the latest
        `lifetime` after sign-in."""
        return min(self.started_at + lifetime, self.last_seen_at + idle)

    def seen(self, now: datetime, role: Role) -> Session:
        return Session(self.name, role, self.method, self.started_at, now)


def local_account_allows(session: Session, user: UserRow | None) -> Role | None:
    """The role a password session still has: None once the account is gone or disabled, or
    its password changed after sign-in (which ends every open session)."""
    if user is None or not user.active or user.password_changed_at > session.started_at:
        return None
    return Role(user.role)
