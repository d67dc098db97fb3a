"""Starting the Streamlit dashboard as a child process (for `vigia dashboard` and the demo)."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import webbrowser
from pathlib import Path
from urllib.parse import urlsplit

from vigia.access.sso_secrets import secrets_toml
from vigia.config import SsoConfig

READY_TIMEOUT = 60.0
# Streamlit stops within a second or two of SIGTERM; one that has not after this is killed, so
# that `vigia dashboard` never exits leaving the port taken.
STOP_TIMEOUT = 15.0
# Only this machine, unless the configuration's dashboard.address says otherwise.
DEFAULT_ADDRESS = "127.0.0.1"


def dashboard_app() -> Path:
    """dashboard/app.py of the installed `dashboard` package, wherever it lives."""
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'dashboard' package is not installed; run: pip install -e .")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def launch_dashboard(
    config_path: Path,
    port: int = 8501,
    browser: bool = True,
    db_url: str | None = None,
    address: str = DEFAULT_ADDRESS,
    public_url: str | None = None,
    sso: SsoConfig | None = None,
) -> subprocess.Popen[bytes]:
    """Start `streamlit run dashboard/app.py` on `address`:`port` for `config_path`.

    `db_url` overrides the configuration's database (the demo's own SQLite file). `public_url`
    is where people reach the dashboard (a reverse proxy's URL; default http://localhost:PORT).
    With `browser`, the dashboard opens in the default browser once the server answers.
    With `sso` (the configuration's auth.sso), Streamlit gets the provider's secrets from the
    VIGIA_* variables (ValueError naming those missing, before anything starts).
    Returns the process.
    """
    url = public_url or f"http://localhost:{port}"
    env = {**os.environ, "VIGIA_CONFIG": str(Path(config_path).resolve())}
    if db_url is not None:
        env["VIGIA_DATABASE_URL"] = db_url
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(dashboard_app()),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # The public host: Streamlit accepts the browser's origin from there, and, being set,
        # never asks checkip.amazonaws.com for an "External URL".
        "--browser.serverAddress",
        urlsplit(url).hostname or "localhost",
        # Installed code does not change under a running dashboard: no file watcher needed.
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
        "--theme.primaryColor",
        "#0f766e",
    ]
    if sso is not None:
        command += ["--secrets.files", str(write_sso_secrets(sso, url))]
    process = subprocess.Popen(command, env=env)
    print(f"Vigía dashboard: {url} (listening on {address} port {port})", flush=True)
    if browser:
        threading.Thread(
            target=_open_when_ready, args=(url, port, process, address), daemon=True
        ).start()
    return process


def run_until_exit(process: subprocess.Popen[bytes], stop_timeout: float = STOP_TIMEOUT) -> int:
    """Wait for the dashboard `process`, passing SIGTERM and SIGINT sent to this process on to
    it; once asked to stop, it has `stop_timeout` seconds before it is killed. Returns its exit
    status, or 0 when it stopped because it was asked to. Call from the main thread."""
    asked: list[float] = []

    def forward(signum: int, frame: object) -> None:
        if not asked:
            asked.append(time.monotonic())
        if process.poll() is None:
            process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                code = process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] > stop_timeout:
                    process.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if asked else code


def write_sso_secrets(sso: SsoConfig, public_url: str) -> Path:
    """Streamlit's secrets for `sso` in a new private folder (the file readable by this user
    only), removed when this process exits; ValueError naming the VIGIA_* variables missing."""
    text = secrets_toml(sso, public_url)
    folder = Path(tempfile.mkdtemp(prefix="vigia-secrets-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "secrets.toml"
    path.touch(mode=0o600)  # private before the secrets go in
    path.write_text(text, encoding="utf-8")
    return path


def wait_until_listening(
    port: int, timeout: float = READY_TIMEOUT, host: str = "127.0.0.1"
) -> bool:
    """True once something accepts connections on `port`, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _open_when_ready(url: str, port: int, process: subprocess.Popen[bytes], address: str) -> None:
    # A wildcard address answers on loopback too; a specific one (a LAN IP) only there.
    host = DEFAULT_ADDRESS if address in ("0.0.0.0", "::", "localhost") else address
    if wait_until_listening(port, host=host) and process.poll() is None:
        webbrowser.open(url)
