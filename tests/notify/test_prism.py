"""Every request the adapter makes, checked by a mock of Twilio's API built from Twilio's OpenAPI description.

Prism (@stoplight/prism-cli, pinned in tests/notify/prism/package.json and installed there by this
test into a git-ignored node_modules) validates each request against the spec: a parameter Twilio
would refuse gets 422, which the adapter raises. Skipped, with the reason, without Node and npm
or without the spec at ../shared/twilio-oai/twilio_api_v2010.json beside the repository.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from helpline.notify import retry
from helpline.notify.twilio_sender import SendFailed, TwilioSender

HERE = Path(__file__).resolve().parent / "prism"
SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "twilio-oai" / "twilio_api_v2010.json"
PRISM = HERE / "node_modules" / ".bin" / "prism"
ACCOUNT = "AC" + "a" * 32
PASSED = "The request passed the validation rules"


def _why_not() -> str | None:
    if not SPEC.is_file():
        return f"Twilio's OpenAPI description is not at ../shared/twilio-oai/{SPEC.name}"
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are not installed"
    if not PRISM.exists():
        try:
            done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                                  capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return "npm install of @stoplight/prism-cli timed out"
        if done.returncode != 0:
            return f"npm install of @stoplight/prism-cli failed: {done.stderr.strip()[-300:]}"
    if not PRISM.exists():
        return "@stoplight/prism-cli is not installed"
    return None


class PrismMock:
    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen([str(PRISM), "mock", str(SPEC), "-h", "127.0.0.1", "-p", str(self.port)],
                                     cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if "Prism is listening" in line:
                self.ready.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def passed(self) -> int:
        return sum(PASSED in line for line in self.lines)

    def settle(self) -> None:
        """Prism logs a moment after it answers."""
        deadline = time.monotonic() + 5
        count = -1
        while time.monotonic() < deadline and count != len(self.lines):
            count = len(self.lines)
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def prism():
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    mock = PrismMock()
    if not mock.ready.wait(timeout=180):
        mock.stop()
        pytest.fail("Prism did not start: " + "\n".join(mock.lines[-20:]))
    yield mock
    mock.stop()


@pytest.fixture
def adapter(prism) -> TwilioSender:
    return TwilioSender(ACCOUNT, "test-token", "+442380248725", "https://helpline.example.org/sms/status",
                        api_base_url=prism.url)


def test_every_request_the_adapter_makes_passes_twilios_spec(prism, adapter):
    before, start = prism.passed(), len(prism.lines)
    accepted = adapter.send("+447911123456", "Help line 02380 248725: we'll call you by 12:00 today.")
    assert accepted.sid.startswith("SM")
    adapter.send("+447911123456", "A WhatsApp text.", channel="whatsapp")
    adapter.find("+447911123456", "no such text", datetime(2026, 11, 18, 10, 0))
    prism.settle()
    # Each send is one request; the look-up may follow the example's next page, so at least three.
    assert prism.passed() - before >= 3
    rejected = [line for line in prism.lines[start:] if "Request did not pass the validation rules" in line]
    assert rejected == []


def test_the_mock_does_refuse_a_request_twilio_would_refuse(prism, adapter):
    """The check above can fail: a malformed parameter gets 422, which the adapter reports."""
    adapter.status_callback = "not a url"
    with pytest.raises(SendFailed) as caught:
        adapter.send("+447911123456", "Hello")
    assert caught.value.http_status == 422 and caught.value.outcome == retry.PERMANENT
    prism.settle()
    assert any("StatusCallback must match format" in line for line in prism.lines)
