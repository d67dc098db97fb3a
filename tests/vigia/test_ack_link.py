"""The signed "acknowledge" link of alert e-mails, as a real SMTP server receives them."""

from __future__ import annotations

import html
import secrets
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.vigia.alert_scenario import (
    START,
    SimClock,
    SmtpSink,
    alerting,
    history,
    html_part,
    negatives,
    smtp_settings,
    store,
    text_part,
)
from vigia.access.links import SECRET_ENV, LinkError, check_ack_token
from vigia.alerts.detect import check_after_poll
from vigia.alerts.digest import send_digest
from vigia.alerts.policy import AlertState
from vigia.alerts.render import ack_link
from vigia.pipeline import Runtime
from vigia.storage.alerts import AlertRow, list_alerts

LABEL = "Reconocer esta alerta (acknowledge; inicia sesión primero):"
PUBLIC_URL = "http://vigia.example:8501"
LIFETIME = timedelta(hours=2)
NOW = START + timedelta(minutes=40)  # 10:40 UTC, 11:40 in Madrid


def spiking(settings_factory, port: int, brands: dict[str, int], **alerts) -> Runtime:  # type: ignore[no-untyped-def]
    """Two calm weeks per brand, then `brands[name]` negatives from 10:02 to 10:30; now 10:40.

    Acknowledge links last two hours; times are shown in Europe/Madrid (UTC+1 in March).
    """
    settings = settings_factory(
        timezone="Europe/Madrid",
        brands=[{"name": name, "keywords": [name.lower()]} for name in brands],
        smtp=smtp_settings(port),
        alerts={"recipients": ["cm@example.com"], **alerts},
        dashboard={"public_url": PUBLIC_URL + "/"},
        auth={"ack_link_lifetime": "2h"},
    )
    rt = Runtime.build(settings, clock=SimClock(NOW))
    for brand, count in brands.items():
        store(rt, history(brand, START))
        store(rt, negatives(brand, START + timedelta(minutes=2), count, every=28 / count))
    return rt


def ack_links(text: str) -> list[str]:
    """The URL on the line after each acknowledge label."""
    lines = [line.strip() for line in text.splitlines()]
    return [after for before, after in zip(lines, lines[1:], strict=False) if before == LABEL]


def token_of(url: str) -> tuple[int, str]:
    """The alert id and the `ack` token of an acknowledge link on the configured public URL."""
    assert url.startswith(PUBLIC_URL + "/alerts?")
    query = parse_qs(urlsplit(url).query)
    return int(query["id"][0]), query["ack"][0]


def one_alert_email(settings_factory) -> tuple[EmailMessage, AlertRow]:  # type: ignore[no-untyped-def]
    """The e-mail of Vellora's spike, and the alert."""
    with SmtpSink() as sink:
        rt = spiking(settings_factory, sink.port, {"Vellora": 15})
        try:
            check_after_poll(alerting(rt), "history", brands={"Vellora"})
            with rt.engine.connect() as conn:
                (alert,) = list_alerts(conn)
        finally:
            rt.close()
        (message,) = sink.to("cm@example.com")
    return message, alert


def test_alert_email_acknowledge_link_is_signed_for_that_alert_and_expires(
    settings_factory, monkeypatch
):
    monkeypatch.setenv(SECRET_ENV, secrets.token_urlsafe(32))
    message, alert = one_alert_email(settings_factory)
    alert_id = alert.id
    text = text_part(message)

    (url,) = ack_links(text)
    linked_id, token = token_of(url)
    assert linked_id == alert_id
    check_ack_token(token, alert_id, NOW)
    check_ack_token(token, alert_id, NOW + LIFETIME - timedelta(minutes=1))
    with pytest.raises(LinkError, match="not valid for this alert"):
        check_ack_token(token, alert_id + 1, NOW)
    with pytest.raises(LinkError, match="expired"):
        check_ack_token(token, alert_id, NOW + LIFETIME + timedelta(minutes=1))
    # Valid until 12:40 UTC, said in the configured zone.
    assert f"{url}\nEnlace válido hasta el 2026-03-10 13:40 (Europe/Madrid).\n" in text
    # Between the dashboard link and the CLI commands.
    assert text.index("Ver en el panel:") < text.index(LABEL) < text.index("vigia alerts ack")

    page = html_part(message)
    assert f'<a href="{html.escape(url)}" style="display:inline-block;padding:14px 20px' in page
    assert "&amp;ack=" in page and "&ack=" not in page  # the query's & is escaped in HTML
    assert "Reconocer esta alerta (acknowledge; inicia sesión primero)</a>" in page
    assert "Enlace válido hasta el 2026-03-10 13:40 (Europe/Madrid)." in page


def test_without_a_secret_key_the_alert_email_goes_out_without_an_acknowledge_link(
    settings_factory, monkeypatch
):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    message, alert = one_alert_email(settings_factory)
    alert_id = alert.id
    text, page = text_part(message), html_part(message)
    assert f"Ver en el panel: {PUBLIC_URL}/alerts?id={alert_id}\n" in text
    assert "Reconocer esta alerta" not in text and "Reconocer esta alerta" not in page
    assert "ack=" not in text and "ack=" not in page


def test_digest_gives_each_alert_its_own_acknowledge_link(settings_factory, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, secrets.token_urlsafe(32))
    with SmtpSink() as sink:
        # Six and eight negatives: two warnings, held back for the digest.
        rt = spiking(
            settings_factory,
            sink.port,
            {"Vellora": 6, "Brisa": 8},
            digest=True,
            digest_hour=8,
            spike={"z_critical": 12},
        )
        try:
            check_after_poll(alerting(rt), "history", brands={"Vellora", "Brisa"})
            rt.clock.advance(hours=20)  # type: ignore[attr-defined]
            assert send_digest(alerting(rt)) == 1
            with rt.engine.connect() as conn:
                alert_ids = {a.id for a in list_alerts(conn)}
        finally:
            rt.close()
        (digest,) = sink.to("cm@example.com")

    text = text_part(digest)
    links = ack_links(text)
    assert {token_of(url)[0] for url in links} == alert_ids and len(links) == 2
    for url in links:
        alert_id, token = token_of(url)
        check_ack_token(token, alert_id, NOW + timedelta(hours=20))  # from the digest's clock
        assert f"Ver en el panel: {PUBLIC_URL}/alerts?id={alert_id}" in text
        assert f'href="{html.escape(url)}"' in html_part(digest)


def test_an_acknowledged_or_resolved_alert_has_no_acknowledge_link(settings_factory, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, secrets.token_urlsafe(32))
    _, alert = one_alert_email(settings_factory)
    assert ack_link(alert, PUBLIC_URL, NOW, LIFETIME) is not None
    for state in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
        assert ack_link(replace(alert, state=state), PUBLIC_URL, NOW, LIFETIME) is None
