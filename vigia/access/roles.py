"""Roles, what each may do, and who is acting (checked on the server for every action)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Ordered: each role may do everything the ones before it may."""

    VIEWER = "viewer"
    AGENT = "agent"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Permission(StrEnum):
    READ = "read"
    WORK_INBOX = "work the inbox"
    MANAGE_ALERTS = "acknowledge, resolve or reopen alerts"
    RESEND = "resend an alert e-mail"
    EDIT_REPLIES = "edit prepared replies and rules"
    READ_AUDIT = "read the audit trail"
    ERASE = "erase an author's data"
    MANAGE_USERS = "manage users"


# The least role that holds each permission.
REQUIRED = {
    Permission.READ: Role.VIEWER,
    Permission.WORK_INBOX: Role.AGENT,
    Permission.MANAGE_ALERTS: Role.MANAGER,
    Permission.RESEND: Role.MANAGER,
    Permission.EDIT_REPLIES: Role.MANAGER,
    Permission.READ_AUDIT: Role.MANAGER,
    Permission.ERASE: Role.ADMIN,
    Permission.MANAGE_USERS: Role.ADMIN,
}


class Forbidden(PermissionError):
    """The actor's role does not allow the action; the message says which role would."""


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a user's name (or e-mail under single sign-on), their role, and
    where from ("dashboard", "email-link", "cli")."""

    name: str
    role: Role
    via: str

    def with_via(self, via: str) -> Actor:
        return Actor(self.name, self.role, via)

    def may(self, permission: Permission) -> bool:
        return self.role.rank >= REQUIRED[permission].rank

    def require(self, permission: Permission) -> None:
        """Raise Forbidden unless this actor's role holds `permission`."""
        if not self.may(permission):
            needed = REQUIRED[permission].value
            raise Forbidden(
                f"{self.name} ({self.role.value}) may not {permission.value}: "
                f"needs the {needed} role or higher"
            )
