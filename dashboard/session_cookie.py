"""The browser cookie that brings a signed-in tab back after a reload: set, read and cleared.

Streamlit has no server-side way to set a cookie, so the page sets it with a line of JavaScript
(`st.html(..., unsafe_allow_javascript=True)`); the server reads it from the WebSocket request
that every page load opens. Only a random token travels; the database keeps its hash.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import streamlit as st

COOKIE = "vigia_session"
_PENDING_KEY = "vigia_cookie_pending"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def token() -> str | None:
    """The session token the browser sent with this page load, if it looks like one."""
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) and _TOKEN.match(value) else None


def remember(value: str, lifetime: timedelta) -> None:
    """Have the browser keep `value` for `lifetime` (written by the next completed run)."""
    st.session_state[_PENDING_KEY] = (value, int(lifetime.total_seconds()))


def forget() -> None:
    """Have the browser drop the cookie (written by the next completed run)."""
    st.session_state[_PENDING_KEY] = ("", 0)


def write_pending() -> None:
    """Send the pending cookie change to the browser, if any. Lax: sent when the page is opened
    from an e-mail's link, never on another site's requests; Secure under https."""
    pending = st.session_state.pop(_PENDING_KEY, None)
    if pending is None:
        return
    value, max_age = pending
    cookie = json.dumps(f"{COOKIE}={value}; Path=/; Max-Age={max_age}; SameSite=Lax")
    st.html(
        "<script>document.cookie = "
        f"{cookie} + (location.protocol === 'https:' ? '; Secure' : '');</script>",
        unsafe_allow_javascript=True,
        width=1,
    )
