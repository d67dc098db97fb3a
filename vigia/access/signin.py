"""Signing in with a local account: the password check, and a back-off after failures.

After `FREE_ATTEMPTS` failures in a row for a name (known or not), each attempt must wait
`FIRST_WAIT`, doubling per further failure up to `MAX_WAIT`, counted from the last failure.
An attempt made before the wait is over is refused without checking the password, and does not
count. A success clears the count.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from vigia.access.passwords import hash_password, needs_rehash, verify
from vigia.storage.users import (
    UserRow,
    add_failure,
    clear_failures,
    failures_of,
    get_user,
    update_user,
)

FREE_ATTEMPTS = 3
FIRST_WAIT = timedelta(seconds=5)
MAX_WAIT = timedelta(minutes=15)
_MAX_DOUBLINGS = math.ceil(math.log2(MAX_WAIT / FIRST_WAIT))

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignInResult:
    """The user on success; otherwise None, with how long to wait before the next attempt."""

    user: UserRow | None
    wait: timedelta = timedelta(0)


def backoff(failures: int, last_failed_at: datetime | None, now: datetime) -> timedelta:
    """How long from `now` until the next attempt for a name is checked (zero: now)."""
    if failures < FREE_ATTEMPTS or last_failed_at is None:
        return timedelta(0)
    # The exponent is capped: past MAX_WAIT, 2**n would overflow timedelta (47 failures in a row).
    doublings = min(failures - FREE_ATTEMPTS, _MAX_DOUBLINGS)
    step = min(FIRST_WAIT * 2**doublings, MAX_WAIT)
    return max(last_failed_at + step - now, timedelta(0))


def sign_in(engine: Engine, name: str, password: str, now: datetime) -> SignInResult:
    """Check `name` and `password`. A disabled or unknown account fails like a wrong password."""
    name = name.strip()[:100]  # no account name is longer
    with engine.connect() as conn:
        failures, last_failed_at = failures_of(conn, name)
        wait = backoff(failures, last_failed_at, now)
        if wait:
            return SignInResult(None, wait)
        user = get_user(conn, name)
    usable = user if user is not None and user.active else None
    # Checked outside any transaction: argon2 takes tens of milliseconds on purpose.
    ok = verify(usable.password_hash if usable else None, password)
    with engine.begin() as conn:
        if ok and usable is not None:
            clear_failures(conn, name)
            if needs_rehash(usable.password_hash):
                update_user(conn, usable.id, password_hash=hash_password(password))
            return SignInResult(usable)
        add_failure(conn, name, now)
        failures, last_failed_at = failures_of(conn, name)
    log.warning("failed sign-in for %r (%d in a row)", name[:100], failures)
    return SignInResult(None, backoff(failures, last_failed_at, now))
