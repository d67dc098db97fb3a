"""A minimal headless-Chromium driver over the DevTools protocol, for the dashboard's browser test.

Streamlit renders in the browser over a WebSocket, which `chromium --dump-dom` does not wait for
(its virtual time budget elapses before the app's messages arrive), so the test drives the page
through the DevTools protocol instead, with the `websockets` client Streamlit already depends on.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from vigia.dashboard_launcher import launch_dashboard, wait_until_listening
from vigia.demo.runner import free_port

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--no-first-run",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(
        self, executable: str, profile: Path, width: int = 1440, height: int = 1000
    ) -> None:
        self.profile = profile
        self.process = subprocess.Popen(
            [
                executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self._stack = ExitStack()
        self.socket = self._stack.enter_context(self._connect())
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip

    def _connect(self, timeout: float = 30.0) -> AbstractContextManager[ClientConnection]:
        # Chromium writes the port it chose into the profile once DevTools is listening.
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            pages = [t for t in json.load(reply) if t["type"] == "page"]
        return connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are skipped)."""
        message_id = next(self._ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        return self.call("Runtime.evaluate", expression=expression)["result"].get("value")

    def fill(self, label: str, value: str, timeout: float = 30.0) -> None:
        """Type `value` into the input labelled `label`, as a person would (React sees it)."""
        found = f"document.querySelector({json.dumps(f'input[aria-label={label!r}]')})"
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"!!{found} && ({found}.focus(), {found}.select(), true)"):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no input labelled {label!r}; page text:\n{self.text()[:2000]}"
                )
            time.sleep(0.25)
        self.call("Input.insertText", text=value)

    def click(self, text: str, timeout: float = 30.0) -> None:
        """Click the first button or link whose visible text ends with `text` (after its icon)."""
        script = (
            "(() => { const el = [...document.querySelectorAll('button, a')]"
            f".find(e => e.innerText.trim().endsWith({json.dumps(text)}));"
            " if (el) { el.click(); return true; } return false; })()"
        )
        deadline = time.monotonic() + timeout
        while not self.evaluate(script):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"nothing to click named {text!r}; page text:\n{self.text()[:2000]}"
                )
            time.sleep(0.25)

    def text(self) -> str:
        """The page's visible text right now."""
        result = self.call(
            "Runtime.evaluate", expression="document.body ? document.body.innerText : ''"
        )
        return str(result["result"].get("value", ""))

    def wait_for_text(self, *needles: str, timeout: float = 60.0) -> str:
        """Poll until every needle is in the page text (the app renders client-side)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if all(n in text for n in needles):
                return text
            time.sleep(0.25)
        missing = [n for n in needles if n not in text]
        raise AssertionError(f"not rendered after {timeout}s: {missing}; page text:\n{text[:2000]}")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                              "scale": 1}  # fmt: skip
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))
        return path

    def send_header(self, name: str, value: str) -> None:
        """Send `name: value` with every request from now on, WebSocket handshakes included,
        as a reverse proxy in front of the dashboard adds it."""
        self.call("Network.enable")
        self.call("Network.setExtraHTTPHeaders", headers={name: value})

    def url(self) -> str:
        """The address of the page shown now (after any redirects)."""
        history = self.call("Page.getNavigationHistory")
        return str(history["entries"][history["currentIndex"]]["url"])

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def chromium_or_skip(folder: Path) -> Chromium:
    """A Chromium with its profile in `folder`, or the test skipped when none is installed."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed (make test installs it with apt-get when root)")
    return Chromium(executable, folder / "profile", height=1200)


@contextmanager
def launched(config: Path, **options: Any) -> Iterator[int]:
    """The dashboard of `config` started by `launch_dashboard(config, port, **options)` on a
    free port, which is yielded once it listens; stopped at the end."""
    port = free_port()
    process = launch_dashboard(config, port=port, browser=False, **options)
    try:
        assert wait_until_listening(port), "the dashboard did not start listening"
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
