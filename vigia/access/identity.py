"""Who a single sign-on or reverse-proxy user is, and their role, from their e-mail."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from vigia.access.roles import Role
from vigia.config import AuthConfig, ProxyAuthConfig
from vigia.storage.users import UserRow


def role_for_email(email: str, auth: AuthConfig, account: UserRow | None) -> Role | None:
    """The role for `email`: `auth.roles_by_email` (the address, then *@its domain), else the
    active local account with that e-mail; None: no access."""
    email = email.strip().casefold()
    if "@" not in email:
        return None
    domain = email.rpartition("@")[2]
    role = auth.roles_by_email.get(email) or auth.roles_by_email.get(f"*@{domain}")
    if role is not None:
        return role
    if account is not None and account.active and (account.email or "").casefold() == email:
        return Role(account.role)
    return None


def proxy_email(
    headers: Mapping[str, str], client_ip: str | None, proxy: ProxyAuthConfig
) -> str | None:
    """The e-mail a trusted reverse proxy vouches for, or None: the header is ignored unless
    the request comes from one of `proxy.trusted` (anyone else could send it)."""
    if not client_ip:
        return None
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    if not any(address in ipaddress.ip_network(n, strict=False) for n in proxy.trusted):
        return None
    value = next((v for k, v in headers.items() if k.lower() == proxy.header.lower()), "")
    value = value.strip()
    return value if "@" in value and len(value) <= 255 else None
