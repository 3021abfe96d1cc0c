"""What the browser tests share: Debian's Chromium, a live server on a free port, screenshots."""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from werkzeug.serving import make_server

from helpline import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Chromium as root on a closed network: no sandbox, no background connections.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"Debian's chromium is not installed at {CHROMIUM} (make system-packages)")


@contextlib.contextmanager
def live_server(app, check: Callable[[Any], None] | None = None, **settings: Any) -> Iterator[str]:
    """The help line on a free port in a thread, sharing the test database, clock and Twilio settings."""
    shared = ("DATABASE_URL", "TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL", "CLOCK")
    live = create_app({**{key: app.config[key] for key in shared}, "SECRET_KEY": "browser-test",
                       "INSECURE_SKIP_SIGNATURES": False, **settings})
    if check is not None:
        check(live)
    httpd = make_server("127.0.0.1", 0, live, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


def watched_page(context):
    """A new tab that collects page errors and Content-Security-Policy refusals in `tab.problems`."""
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))
    tab.on("console", lambda msg: tab.problems.append(msg.text)
           if msg.type == "error" or "Content Security Policy" in msg.text else None)
    return tab


def screenshot(page, name: str, database_url: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{'postgresql' if database_url.startswith('postgres') else 'sqlite'}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
