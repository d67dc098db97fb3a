"""Single sign-on: the launcher hands Streamlit its OIDC secrets from VIGIA_* variables, and
headless Chromium signs in at a local OpenID Connect provider; the e-mail's role opens the
dashboard, or nothing when it has none."""

from __future__ import annotations

import hashlib
import hmac
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from dashboard.access import SSO_PROVIDER
from tests.dashboard.browser import chromium_or_skip, launched
from tests.dashboard.oidc_provider import OidcProvider
from tests.dashboard.seed import BRAND, NEWEST_NEGATIVE
from vigia.access.sso_secrets import PROVIDER, secrets_toml
from vigia.config import SsoConfig, load_settings
from vigia.dashboard_launcher import launch_dashboard, write_sso_secrets
from vigia.storage import audit

CLIENT_ID = "vigia-dashboard"
# Quotes, a backslash, a newline and a non-ASCII letter: the TOML must carry it unchanged.
CLIENT_SECRET = 'se"cr\\et\nñ-of-the-test-client'
SECRET_KEY = "a-test-secret-of-at-least-32-characters!"
LABEL = "Keycloak"
MANAGER = "lucia@vellora.example"  # a manager by auth.roles_by_email; no local account
STRANGER = "intruso@elsewhere.example"  # no role anywhere
VARIABLES = {
    "VIGIA_AUTH_SSO_CLIENT_ID": CLIENT_ID,
    "VIGIA_AUTH_SSO_CLIENT_SECRET": CLIENT_SECRET,
    "VIGIA_SECRET_KEY": SECRET_KEY,
}
SSO = SsoConfig(
    label=LABEL, server_metadata_url="https://id.example.com/.well-known/openid-configuration"
)


@pytest.fixture
def sso_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in VARIABLES.items():
        monkeypatch.setenv(name, value)


def with_sso(config: Path, metadata_url: str) -> SsoConfig:
    """Add single sign-on at `metadata_url` to `config`, MANAGER a manager; its auth.sso."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["auth"] = {
        "sso": {"label": LABEL, "server_metadata_url": metadata_url},
        "roles_by_email": {MANAGER: "manager"},
    }
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    sso = load_settings(config).auth.sso
    assert sso is not None
    return sso


# -- the secrets file -------------------------------------------------------------------------


def test_the_secrets_carry_the_provider_and_a_derived_cookie_key(sso_environment: None) -> None:
    text = secrets_toml(SSO, "https://vigia.example.com/")
    assert tomllib.loads(text) == {
        "auth": {
            "redirect_uri": "https://vigia.example.com/oauth2callback",
            "cookie_secret": hmac.new(
                SECRET_KEY.encode(), b"streamlit-auth-cookie", hashlib.sha256
            ).hexdigest(),
            PROVIDER: {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "server_metadata_url": SSO.server_metadata_url,
            },
        }
    }
    assert SECRET_KEY not in text  # only a key derived from it
    assert PROVIDER == SSO_PROVIDER  # the name st.login asks for


@pytest.mark.parametrize(
    "secret", ["tab\tcr\rnewline\n", "del\x7f esc\x1b", '😀 \\u0041 \\"', "[auth]\nx = 1"]
)
def test_any_secret_survives_the_toml(
    monkeypatch: pytest.MonkeyPatch, sso_environment: None, secret: str
) -> None:
    monkeypatch.setenv("VIGIA_AUTH_SSO_CLIENT_SECRET", secret)
    secrets = tomllib.loads(secrets_toml(SSO, "http://localhost:8501"))
    assert secrets["auth"][PROVIDER]["client_secret"] == secret


def test_every_missing_variable_is_named_and_no_value_shown(
    monkeypatch: pytest.MonkeyPatch, sso_environment: None
) -> None:
    monkeypatch.delenv("VIGIA_AUTH_SSO_CLIENT_SECRET")
    monkeypatch.delenv("VIGIA_SECRET_KEY")
    with pytest.raises(ValueError) as raised:
        secrets_toml(SSO, "http://localhost:8501")
    assert str(raised.value) == (
        "auth.sso is configured but not set in the environment: "
        "VIGIA_AUTH_SSO_CLIENT_SECRET, VIGIA_SECRET_KEY"
    )
    monkeypatch.setenv("VIGIA_SECRET_KEY", "too-short")
    with pytest.raises(
        ValueError, match="VIGIA_SECRET_KEY \\(environment\\): must hold at least 32"
    ) as raised:
        secrets_toml(SSO, "http://localhost:8501")
    assert CLIENT_ID not in str(raised.value) and "too-short" not in str(raised.value)


def test_the_launcher_refuses_to_start_without_the_variables(
    seeded: tuple[Path, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = seeded
    monkeypatch.delenv("VIGIA_AUTH_SSO_CLIENT_ID", raising=False)
    with pytest.raises(ValueError, match="not set in the environment: VIGIA_AUTH_SSO_CLIENT_ID,"):
        launch_dashboard(config, port=9, browser=False, sso=SSO)


def test_the_secrets_file_is_private(sso_environment: None) -> None:
    path = write_sso_secrets(SSO, "http://localhost:8501")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert (
        tomllib.loads(path.read_text(encoding="utf-8"))["auth"][PROVIDER]["client_id"] == CLIENT_ID
    )


# -- in the browser ---------------------------------------------------------------------------


@pytest.fixture
def provider(request: pytest.FixtureRequest) -> Iterator[OidcProvider]:
    """The local provider, signing in the e-mail the test is parametrised with."""
    with OidcProvider(request.param, CLIENT_ID, CLIENT_SECRET) as running:
        yield running


@pytest.mark.parametrize("provider", [MANAGER], indirect=True)
def test_single_sign_on_opens_the_dashboard_with_the_emails_role(
    seeded: tuple[Path, Engine],
    sso_environment: None,
    provider: OidcProvider,
    tmp_path: Path,
) -> None:
    config, engine = seeded
    sso = with_sso(config, provider.metadata_url)
    with launched(config, sso=sso) as port, chromium_or_skip(tmp_path) as browser:
        # The callback's origin is public_url's (http://localhost:PORT): the browser uses it.
        browser.open(f"http://localhost:{port}/")
        browser.wait_for_text("Entrar (sign in)", f"Entrar con {LABEL}")
        browser.screenshot(tmp_path / "sso-sign-in.png", full_page=False)
        browser.click(f"Entrar con {LABEL}")
        text = browser.wait_for_text(
            f"{MANAGER} · responsable (manager)", f"Tendencias · {BRAND}", "25.0 %"
        )
        assert browser.url() == f"http://localhost:{port}/"  # back from the provider
        assert "Auditoría (Audit)" in text and "Usuarios (Users)" not in text  # a manager's
        browser.screenshot(tmp_path / "sso-signed-in.png", full_page=False)

        browser.click("Salir")
        browser.wait_for_text("Entrar (sign in)", f"Entrar con {LABEL}")
        assert BRAND not in browser.text()
    with engine.connect() as conn:
        (entry,) = [e for e in audit.entries(conn) if e.action == "session.sign_in"]
    assert (entry.actor, entry.after) == (MANAGER, {"method": "sso", "role": "manager"})


@pytest.mark.parametrize("provider", [STRANGER], indirect=True)
def test_an_email_without_a_role_sees_no_data(
    seeded: tuple[Path, Engine],
    sso_environment: None,
    provider: OidcProvider,
    tmp_path: Path,
) -> None:
    config, engine = seeded
    sso = with_sso(config, provider.metadata_url)
    with launched(config, sso=sso) as port, chromium_or_skip(tmp_path) as browser:
        browser.open(f"http://localhost:{port}/")
        browser.click(f"Entrar con {LABEL}")
        text = browser.wait_for_text(f"{STRANGER} no tiene acceso a Vigía", "Salir (sign out)")
        browser.screenshot(tmp_path / "sso-no-role.png", full_page=False)
        for secret in (BRAND, NEWEST_NEGATIVE, "Tendencias", "Marca (brand)"):
            assert secret not in text
    with engine.connect() as conn:
        assert not [e for e in audit.entries(conn) if e.action == "session.sign_in"]
