"""Streamlit's `[auth]` secrets for single sign-on, made at launch from VIGIA_* variables.

config.yaml names the provider (`auth.sso`); its client id and secret come from the
environment, and Streamlit's sign-in cookie is signed with a key derived from VIGIA_SECRET_KEY.
Streamlit reads them from a TOML secrets file, whose text this module writes.
"""

from __future__ import annotations

import hashlib
import hmac

from vigia.access.links import SECRET_ENV, secret_key
from vigia.config import SsoConfig, secret_env_name

# The provider's name in the secrets; dashboard/access.py calls st.login with the same name.
PROVIDER = "vigia"
# Streamlit's own callback route: the provider sends people back there after signing in.
CALLBACK_PATH = "/oauth2callback"
# Separates this use of VIGIA_SECRET_KEY from its others (acknowledge links).
_COOKIE_CONTEXT = b"streamlit-auth-cookie"


def missing_variables(sso: SsoConfig) -> list[str]:
    """The names of the VIGIA_* variables single sign-on needs that are not set; ValueError
    when VIGIA_SECRET_KEY is set but too short."""
    needed = {
        secret_env_name("auth", "sso", "client_id"): sso.client_id,
        secret_env_name("auth", "sso", "client_secret"): sso.client_secret,
        SECRET_ENV: _secret_key(),
    }
    return [name for name, value in needed.items() if not value]


def _secret_key() -> bytes | None:
    try:
        return secret_key()
    except ValueError as exc:  # too short
        raise ValueError(f"{SECRET_ENV} (environment): {exc}") from None


def cookie_secret(key: bytes) -> str:
    """The key Streamlit signs its sign-in cookie with: derived, so VIGIA_SECRET_KEY itself
    never reaches Streamlit, and stable, so sign-ins survive a restart."""
    return hmac.new(key, _COOKIE_CONTEXT, hashlib.sha256).hexdigest()


def secrets_toml(sso: SsoConfig, public_url: str) -> str:
    """The secrets file for `sso` with the dashboard at `public_url`; ValueError naming the
    VIGIA_* variables missing (or VIGIA_SECRET_KEY too short)."""
    client_id, client_secret, key = sso.client_id, sso.client_secret, _secret_key()
    if not (client_id and client_secret and key):
        missing = ", ".join(missing_variables(sso))
        raise ValueError(f"auth.sso is configured but not set in the environment: {missing}")
    auth = {
        "redirect_uri": public_url.rstrip("/") + CALLBACK_PATH,
        "cookie_secret": cookie_secret(key),
    }
    provider = {
        "client_id": client_id,
        "client_secret": client_secret,
        "server_metadata_url": sso.server_metadata_url,
    }
    return f"{_table('auth', auth)}\n{_table(f'auth.{PROVIDER}', provider)}"


def _table(name: str, values: dict[str, str]) -> str:
    return "".join([f"[{name}]\n", *(f"{k} = {_toml_string(v)}\n" for k, v in values.items())])


def _toml_string(value: str) -> str:
    """`value` as a TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = "".join(
        f"\\u{ord(c):04x}" if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F else c for c in value
    )
    return f'"{escaped}"'
