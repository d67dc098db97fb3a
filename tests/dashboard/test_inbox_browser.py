"""The care inbox worked end to end in headless Chromium by a signed-in agent, on a desktop and
on a phone-width screen (the screenshots are written under the test's tmp_path)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from tests.dashboard.browser import Chromium, chromium_or_skip, launched
from tests.dashboard.seed import AGENT, AGENT_PASSWORD, TOP_ITEM_TEXT, add_agent
from tests.dashboard.test_browser import sign_in
from vigia.storage import audit
from vigia.storage.inbox import QueueFilter, get_item, queue_page

PHONE_WIDTH = 390  # an iPhone 12-15's CSS width


def phone(browser: Chromium, height: int = 844) -> None:
    browser.call("Emulation.setDeviceMetricsOverride", width=PHONE_WIDTH, height=height,
                 deviceScaleFactor=1, mobile=True)  # fmt: skip


EXPAND_SECONDS = 0.6  # an expander opens with an animation: screenshots wait for its end


def open_expander(browser: Chromium, label: str, timeout: float = 30.0) -> None:
    """Open the first expander whose title contains `label`, and let it finish opening."""
    script = (
        "(() => { const el = [...document.querySelectorAll('summary')]"
        f".find(e => e.innerText.includes({json.dumps(label)}));"
        " if (el) { el.click(); return true; } return false; })()"
    )
    deadline = time.monotonic() + timeout
    while not browser.evaluate(script):
        assert time.monotonic() < deadline, f"no expander {label!r}"
        time.sleep(0.25)
    time.sleep(EXPAND_SECONDS)


def wait_until_gone(browser: Chromium, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while text in (shown := browser.text()):
        assert time.monotonic() < deadline, f"{text!r} still shown"
        time.sleep(0.25)
    return shown


def top_item_id(engine: Engine) -> int:
    now = datetime.now(UTC)
    with engine.connect() as conn:
        (top,) = queue_page(conn, QueueFilter(), now, now + timedelta(hours=1), limit=1)
    return top.id


def test_an_agent_takes_answers_and_clears_the_top_item(
    seeded: tuple[Path, Engine], tmp_path: Path
) -> None:
    config, engine = seeded
    add_agent(engine)
    top = top_item_id(engine)
    with launched(config) as port, chromium_or_skip(tmp_path) as browser:
        base = f"http://127.0.0.1:{port}"
        browser.open(f"{base}/inbox")
        sign_in(browser, base, AGENT, AGENT_PASSWORD)
        browser.wait_for_text(
            "Bandeja (Inbox)", TOP_ITEM_TEXT, "vencida hace", "1–8 de 8", "Me la quedo"
        )
        browser.screenshot(tmp_path / "inbox-desktop.png")

        browser.click("Me la quedo")  # the top card's
        browser.wait_for_text(f"#{top} asignada a {AGENT}")
        open_expander(browser, "Responder (reply)")
        # The prepared reply for a late delivery, filled in for this post and this agent.
        browser.wait_for_text(
            "Hola @usuario8, sentimos mucho el retraso", f"{AGENT}, equipo de Vellora"
        )
        browser.screenshot(tmp_path / "inbox-reply-desktop.png")
        browser.click("Marcar respondida")
        text = browser.wait_for_text(f"(#{top})", "Respondida en", "1–7 de 7")
        assert TOP_ITEM_TEXT not in text  # it left the open queue
        browser.screenshot(tmp_path / "inbox-answered-desktop.png")

        phone(browser)
        browser.open(f"{base}/inbox")
        browser.wait_for_text("Bandeja (Inbox)", "1–7 de 7", "Me la quedo")
        browser.screenshot(tmp_path / "inbox-phone.png", full_page=False)
        # The app scrolls inside its own frame: a tall phone-width window shows a whole card.
        phone(browser, height=2400)
        open_expander(browser, "Responder (reply)")
        browser.wait_for_text("Marcar respondida")
        browser.screenshot(tmp_path / "inbox-phone-card.png", full_page=False)

    with engine.connect() as conn:
        item = get_item(conn, top)
        trail = [e for e in audit.entries(conn) if e.target == f"inbox item {top}"]
    assert item is not None and (item.state, item.assignee) == ("answered", AGENT)
    assert {(e.actor, e.action) for e in trail} == {(AGENT, "inbox.assign"),
                                                    (AGENT, "inbox.answer")}  # fmt: skip
