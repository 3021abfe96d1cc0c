"""Make the README's pictures: the simulator (a call and a text conversation) and the flow map.

    make screenshots        # or: .venv/bin/python docs/make_screenshots.py

Starts the help line on a throwaway SQLite database in a server thread on 127.0.0.1, drives
Debian's Chromium through a call that reaches the A&E message and a text conversation that does
the same, and draws the flow map with Graphviz. Writes docs/images/*.png.
"""
from __future__ import annotations

import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpline import create_app, flowmap  # noqa: E402

IMAGES = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# A Wednesday morning in opening hours, so the queue's due times read as they would on a working day.
MORNING = datetime(2026, 11, 18, 10, 0)
CALLER = "+442079460123"  # Ofcom's drama range: nobody's number


def serve(database: Path):
    from flask_migrate import upgrade

    app = create_app({"DATABASE_URL": f"sqlite:///{database}", "SIMULATOR_OPEN": True, "SECRET_KEY": "screenshots",
                      "TWILIO_AUTH_TOKEN": "", "INSECURE_SKIP_SIGNATURES": False, "CLOCK": lambda: MORNING})
    with app.app_context():
        upgrade()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}"


def call_and_text(base: str) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    shots = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(base + "/")
        page.fill("#voice-from", CALLER)
        prompts = page.locator("#voice-screen .prompt")
        page.click("#dial")
        expect(prompts.last).to_contain_text("Press 1 if you have back pain now")
        for key, next_prompt in (("1", "chest pain"), ("2", "serious accident"), ("2", "both legs"),
                                 ("2", "bike saddle")):
            page.click(f'.key[data-key="{key}"]')
            expect(prompts.last).to_contain_text(next_prompt)
        page.click('.key[data-key="1"]')
        expect(page.locator("#voice-screen .prompt.emergency")).to_contain_text("Please go to A and E now")
        shots.append(IMAGES / "simulator.png")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shots[-1]))

        page.click("#tab-sms")
        page.fill("#sms-from", "+442079460124")
        replies = page.locator("#sms-thread .bubble.reply")
        for count, text in enumerate(("Hi, I hurt my back deadlifting", "1", "no", "no", "no", "yes"), start=1):
            page.fill("#sms-body", text)
            page.click("#sms-send")
            expect(replies).to_have_count(count)
        expect(replies.last).to_contain_text("URGENT: Go to A&E now")
        shots.append(IMAGES / "simulator-sms.png")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shots[-1]))
        browser.close()
    return shots


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        httpd, base = serve(Path(tmp) / "screenshots.db")
        try:
            shots = call_and_text(base)
        finally:
            httpd.shutdown()
        app = httpd.app
        shots.append(IMAGES / "flowmap.png")
        shots[-1].write_bytes(flowmap.render(app.extensions["helpline"].flows, "png"))
    for shot in shots:
        print(f"wrote {shot.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
