"""A tiny OpenID Connect provider for the single sign-on tests: real HTTP on 127.0.0.1.

It signs in one fixed person without asking anything: /authorize sends the browser straight
back with a code, and /token turns the code into an RS256-signed id_token carrying the e-mail,
after checking the client's secret, the redirect URI and the PKCE verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

KEY_ID = "vigia-test-key"


@dataclass(frozen=True)
class Grant:
    """What /authorize was asked, remembered under the code it handed out."""

    redirect_uri: str
    nonce: str | None
    code_challenge: str | None


class OidcProvider:
    """The provider at `issuer`, signing in `email` for the client `client_id`/`client_secret`."""

    def __init__(self, email: str, client_id: str, client_secret: str) -> None:
        self.email = email
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig"})
        self.grants: dict[str, Grant] = {}
        self.access_tokens: set[str] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.metadata_url = f"{self.issuer}/.well-known/openid-configuration"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, query: dict[str, str]) -> str:
        """The address to send the browser back to: the client's, with a new code."""
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            raise ValueError("unknown client or response type")
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            query["redirect_uri"], query.get("nonce"), query.get("code_challenge")
        )
        back = {"code": code, "state": query.get("state", "")}
        return f"{query['redirect_uri']}?{urlencode(back)}"

    def token(self, form: dict[str, str], client: tuple[str, str]) -> dict[str, Any]:
        """The tokens for an authorization code, used once; ValueError for anything amiss."""
        grant = self.grants.pop(form.get("code", ""), None)
        if client != (self.client_id, self.client_secret) or grant is None:
            raise ValueError("unknown client or code")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise ValueError("redirect_uri differs from the authorization request's")
        if grant.code_challenge and _s256(form.get("code_verifier", "")) != grant.code_challenge:
            raise ValueError("PKCE verifier does not match")
        access_token = secrets.token_urlsafe(16)
        self.access_tokens.add(access_token)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(grant.nonce),
        }

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": self.email,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            **self.userinfo(),
            **({"nonce": nonce} if nonce else {}),
        }
        return jwt.encode({"alg": "RS256", "kid": KEY_ID}, claims, self.key)

    def userinfo(self) -> dict[str, Any]:
        return {"sub": self.email, "email": self.email, "email_verified": True}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def __enter__(self) -> OidcProvider:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _basic_auth(header: str) -> tuple[str, str]:
    """(client id, secret) from an `Authorization: Basic` header, as Authlib sends it: latin-1,
    not form-encoded first (RFC 6749 §2.3.1 asks for that; providers accept both for ASCII)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return ("", "")
    client_id, _, secret = base64.b64decode(value).decode("latin-1").partition(":")
    return (client_id, secret)


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json(provider.metadata())
            elif url.path == "/jwks":
                self._json(provider.jwks())
            elif url.path == "/authorize":
                self._authorize(query)
            elif url.path == "/userinfo":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token in provider.access_tokens:
                    self._json(provider.userinfo())
                else:
                    self._json({"error": "invalid_token"}, 401)
            else:
                self._json({"error": "not_found"}, 404)

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/token":
                self._json({"error": "not_found"}, 404)
                return
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            client = _basic_auth(self.headers.get("Authorization", ""))
            if "client_secret" in form:  # client_secret_post
                client = (form.get("client_id", ""), form["client_secret"])
            try:
                self._json(provider.token(form, client))
            except ValueError as exc:
                self._json({"error": "invalid_grant", "error_description": str(exc)}, 400)

        def _authorize(self, query: dict[str, str]) -> None:
            try:
                location = provider.authorize(query)
            except (KeyError, ValueError) as exc:
                self._json({"error": "invalid_request", "error_description": str(exc)}, 400)
                return
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _json(self, body: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: pytest shows the test's own output."""

    return Handler
