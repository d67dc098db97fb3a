"""Signed, expiring links: the "acknowledge" link of every alert e-mail.

A link is `{public_url}/alerts?id=N&ack=EXPIRES.SIGNATURE`, where the signature is an HMAC-SHA256
of the alert id and the expiry under the VIGIA_SECRET_KEY environment variable. The link only
says which alert; whoever opens it still signs in, and acknowledges as themselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from timeutil import utc

SECRET_ENV = "VIGIA_SECRET_KEY"
MIN_SECRET_LENGTH = 32


class LinkError(ValueError):
    """The link is malformed, tampered with, or expired; the message says which."""


def secret_key() -> bytes | None:
    """VIGIA_SECRET_KEY, or None when unset (no acknowledge links); ValueError when too short."""
    value = os.environ.get(SECRET_ENV)
    if not value:
        return None
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"must hold at least {MIN_SECRET_LENGTH} characters "
            "(e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return value.encode("utf-8")


def _signature(key: bytes, alert_id: int, expires: int) -> str:
    digest = hmac.new(key, f"ack:{alert_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def ack_token(key: bytes, alert_id: int, expires: datetime) -> str:
    stamp = int(utc(expires).timestamp())
    return f"{stamp}.{_signature(key, alert_id, stamp)}"


def ack_url(public_url: str, alert_id: int, now: datetime, lifetime: timedelta) -> str | None:
    """The acknowledge link for an alert, valid for `lifetime`; None without a secret key."""
    key = secret_key()
    if key is None:
        return None
    token = ack_token(key, alert_id, now + lifetime)
    return f"{public_url}/alerts?{urlencode({'id': alert_id, 'ack': token})}"


def check_ack_token(token: str, alert_id: int, now: datetime) -> None:
    """Return if `token` acknowledges `alert_id` and has not expired; LinkError otherwise."""
    key = secret_key()
    if key is None:
        raise LinkError("acknowledge links are off: VIGIA_SECRET_KEY is not set")
    stamp_text, _, signature = token.partition(".")
    # ASCII only: int() refuses "²" although isdigit() accepts it, and compare_digest raises
    # TypeError on non-ASCII text.
    if not token.isascii() or not stamp_text.isdigit() or len(stamp_text) > 12:
        raise LinkError("the acknowledge link is malformed")
    stamp = int(stamp_text)
    if not hmac.compare_digest(signature, _signature(key, alert_id, stamp)):
        raise LinkError("the acknowledge link is not valid for this alert")
    if datetime.fromtimestamp(stamp, UTC) < utc(now):
        raise LinkError("the acknowledge link has expired")
