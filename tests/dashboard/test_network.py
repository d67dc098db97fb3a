"""Network and links: `vigia dashboard` listens on loopback only; `/alerts?id=N` opens alert N."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP, sign_in
from vigia.config import ConfigError, parse_settings
from vigia.dashboard_launcher import wait_until_listening
from vigia.demo.runner import demo_services, free_port
from vigia.storage.alerts import set_alert_state
from vigia.storage.schema import alerts


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine other than loopback, or None when it has none."""
    candidates = []
    with contextlib.suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    if shutil.which("ip"):
        listing = subprocess.run(
            ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=False
        ).stdout
        # "4: eth0    inet 192.0.2.2/24 brd …": the word after "inet".
        candidates += [
            line.split()[3].split("/")[0] for line in listing.splitlines() if " inet " in line
        ]
    for candidate in candidates:
        try:
            if not ipaddress.ip_address(candidate).is_loopback:
                return candidate
        except ValueError:
            continue
    return None


def test_vigia_dashboard_listens_on_loopback_only(seeded: tuple[Path, Engine]) -> None:
    outside = non_loopback_ipv4()
    if outside is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try the dashboard on")
    config, _ = seeded
    port = free_port()
    # Its own process group: `vigia dashboard` and the Streamlit server it starts stop together.
    process = subprocess.Popen(
        [sys.executable, "-c", "from vigia.cli import main; main()", "-c", str(config),
         "dashboard", "--port", str(port), "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert wait_until_listening(port), "the dashboard did not start listening"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            assert r.status == 200
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((outside, port), timeout=5).close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
    assert f"Vigía dashboard: http://localhost:{port} (listening on 127.0.0.1" in output.decode()


def alerts_page(query: dict[str, str]) -> AppTest:
    """The Alertas page opened at /alerts?… (as from an e-mail's link)."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query)
    sign_in(at.run(), "marta")
    at.switch_page("views/alerts.py").run()
    assert not at.exception, at.exception
    return at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_alert_link_opens_that_alert_first_even_when_resolved(seeded: tuple[Path, Engine]) -> None:
    _, engine = seeded
    with engine.begin() as conn:
        spike_id = conn.execute(
            select(alerts.c.id).where(alerts.c.rule == "negative_spike")
        ).scalar_one()
        set_alert_state(conn, spike_id, "resolved", datetime.now(UTC))
    at = alerts_page({"id": str(spike_id)})
    assert [h.value for h in at.subheader] == [f"Alerta #{spike_id} (linked alert)"]
    # Shown once, expanded, with its own buttons, although the "Activas" view hides resolved ones.
    assert markdown(at).count("Pico de menciones negativas") == 1
    assert at.expander[0].proto.expanded
    assert [b.key for b in at.button if b.key == f"reopen-{spike_id}"]
    assert at.segmented_control(key="alerts_view").value == "active"
    assert "Hilo negativo que se propaga" in markdown(at)  # the active ones follow
    # Closing it goes back to the plain list.
    at.button(key="close-linked").click().run()
    assert "id" not in at.query_params
    assert not at.subheader
    assert "Pico de menciones negativas" not in markdown(at)


@pytest.mark.parametrize("wanted", ["99999", "abc"])
def test_an_unknown_alert_link_shows_a_notice(seeded: tuple[Path, Engine], wanted: str) -> None:
    at = alerts_page({"id": wanted})
    assert not at.error
    assert f"No hay ninguna alerta n.º {wanted}" in at.info[0].value
    assert "Pico de menciones negativas" in markdown(at)  # the list is still there


def test_dashboard_settings_are_checked(tmp_path: Path) -> None:
    base = {"brands": [{"name": "Vellora", "keywords": ["vellora"]}]}
    assert parse_settings(base, tmp_path).dashboard.address == "127.0.0.1"
    proxied = parse_settings(
        {**base, "dashboard": {"address": "0.0.0.0", "public_url": "https://vigia.example.com/"}},
        tmp_path,
    )
    assert proxied.dashboard.public_url == "https://vigia.example.com"
    with pytest.raises(ConfigError) as bad:
        parse_settings({**base, "dashboard": {"public_url": "vigia.example.com"}}, tmp_path)
    assert str(bad.value) == (
        "config: dashboard.public_url: expected an http(s) URL such as https://vigia.example.com"
    )
    # The old key: read as the public URL unless that is written too; a bad one named where it is.
    old = {**base, "alerts": {"dashboard_url": "https://old.example.com"}}
    assert parse_settings(old, tmp_path).dashboard.public_url == "https://old.example.com"
    both = {**old, "dashboard": {"public_url": "https://new.example.com"}}
    assert parse_settings(both, tmp_path).dashboard.public_url == "https://new.example.com"
    with pytest.raises(ConfigError, match=r"^config: alerts\.dashboard_url: expected an http"):
        parse_settings({**base, "alerts": {"dashboard_url": "ftp://x"}}, tmp_path)


def test_the_demo_links_the_dashboard_it_starts(tmp_path: Path) -> None:
    with demo_services(tmp_path, dashboard_port=8765) as (settings, _, _):
        assert settings.dashboard.address == "127.0.0.1"
        assert settings.dashboard.public_url == "http://localhost:8765"
