"""A dashboard session: who signed in, how, and whether the session still holds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
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
    # The hash of the browser cookie that brings a password session back after a page reload.
    token_hash: str | None = None

    def actor(self, via: str = "dashboard") -> Actor:
        return Actor(self.name, self.role, via)

    def expiry(self, lifetime: timedelta, idle: timedelta) -> datetime:
        """When the session ends unless used again: `idle` after its last use, and at the latest
        `lifetime` after sign-in."""
        return min(self.started_at + lifetime, self.last_seen_at + idle)

    def seen(self, now: datetime, role: Role) -> Session:
        return replace(self, role=role, last_seen_at=now)


def local_account_allows(session: Session, user: UserRow | None) -> Role | None:
    """The role a password session still has: None once the account is gone or disabled, or
    its password changed after sign-in (which ends every open session)."""
    if user is None or not user.active or user.password_changed_at > session.started_at:
        return None
    return Role(user.role)


def token_hash(token: str) -> str:
    """How a session cookie's token is stored: its SHA-256 (the token holds 256 random bits)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()
