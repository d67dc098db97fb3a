"""Starting the Streamlit dashboard as a child process (for `vigia dashboard` and the demo)."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
import webbrowser
from pathlib import Path

READY_TIMEOUT = 60.0


def dashboard_app() -> Path:
    """dashboard/app.py of the installed `dashboard` package, wherever it lives."""
    spec = importlib.util.find_spec("dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'dashboard' package is not installed; run: pip install -e .")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def launch_dashboard(
    config_path: Path, port: int = 8501, browser: bool = True, db_url: str | None = None
) -> subprocess.Popen[bytes]:
    """Start `streamlit run dashboard/app.py` on `port` for `config_path`; return the process.

    `db_url` overrides the configuration's database (the demo's own SQLite file). With
    `browser`, the dashboard opens in the default browser once the server answers.
    """
    env = {**os.environ, "VIGIA_CONFIG": str(Path(config_path).resolve())}
    if db_url is not None:
        env["VIGIA_DATABASE_URL"] = db_url
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(dashboard_app()),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # A set address keeps Streamlit from asking checkip.amazonaws.com for an "External URL".
        "--browser.serverAddress",
        "localhost",
        # Installed code does not change under a running dashboard: no file watcher needed.
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
        "--theme.primaryColor",
        "#0f766e",
    ]
    process = subprocess.Popen(command, env=env)
    url = f"http://localhost:{port}"
    print(f"Vigía dashboard: {url}", flush=True)
    if browser:
        threading.Thread(target=_open_when_ready, args=(url, port, process), daemon=True).start()
    return process


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


def _open_when_ready(url: str, port: int, process: subprocess.Popen[bytes]) -> None:
    if wait_until_listening(port) and process.poll() is None:
        webbrowser.open(url)
