"""Stand-ins for Twilio in the outbound tests.

FakeSender replaces the adapter inside the worker (the worker's unit tests). FakeTwilioServer is
a small HTTP server that answers the two REST calls the adapter makes (create a message, list
messages) the way api.twilio.com does, so worker processes can be run, killed and restarted
against it with the real twilio library in between.
"""
from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import parse_qs, urlsplit

from helpline.notify.twilio_sender import Accepted, LookupFailed, SendFailed

_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


@dataclass
class FakeSender:
    """The adapter's interface, scripted: each send pops the next outcome (Accepted by default)."""

    outcomes: list = field(default_factory=list)
    sent: list[tuple[str, str, str]] = field(default_factory=list)
    twilio_has: list[dict] = field(default_factory=list)  # what find() can see
    lookup_fails: bool = False
    finds: list[tuple[str, str]] = field(default_factory=list)

    def send(self, to: str, body: str, channel: str = "sms") -> Accepted:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, SendFailed):
            if outcome.outcome == "unknown" and getattr(outcome, "accepted_anyway", False):
                self._accept(to, body)  # Twilio took it, but the answer never came back
            raise outcome
        self.sent.append((to, body, channel))
        return self._accept(to, body)

    def _accept(self, to: str, body: str) -> Accepted:
        sid = new_sid()
        self.twilio_has.append({"sid": sid, "to": to, "body": body, "created": datetime.now(timezone.utc)})
        return Accepted(sid, "queued")

    def find(self, to, body, since, channel="sms", exclude=frozenset()) -> Optional[Accepted]:
        self.finds.append((to, body))
        if self.lookup_fails:
            raise LookupFailed("HTTP 503")
        for message in self.twilio_has:
            if message["to"] == to and message["body"] == body and message["sid"] not in exclude:
                return Accepted(message["sid"], "sent")
        return None


def in_doubt(accepted_anyway: bool) -> SendFailed:
    failure = SendFailed("unknown", "ReadTimeout: no answer")
    failure.accepted_anyway = accepted_anyway  # type: ignore[attr-defined]
    return failure


@dataclass
class Created:
    sid: str
    form: dict[str, str]
    created: datetime
    auth: str


class FakeTwilioServer:
    """Messages.json on 127.0.0.1: POST creates (and records) a message, GET lists them newest first.

    `before_create(n, form)` runs before the n-th create is recorded and `after_create(n, form)`
    after it; either may block, which is how a test holds a worker mid-send to kill it.
    """

    def __init__(self):
        self.created: list[Created] = []
        self.lock = threading.Lock()
        self.creates_seen = 0
        self.before_create: Optional[Callable[[int, dict], bool]] = None  # False: drop the request
        self.after_create: Optional[Callable[[int, dict], None]] = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker was killed while we held its request

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with server.lock:
                    server.creates_seen += 1
                    n = server.creates_seen
                if server.before_create is not None and server.before_create(n, form) is False:
                    self.close_connection = True
                    return
                record = Created(new_sid(), form, datetime.now(timezone.utc), self.headers.get("Authorization", ""))
                with server.lock:
                    server.created.append(record)
                if server.after_create is not None:
                    server.after_create(n, form)
                self._send(201, server.message_json(record))

            def do_GET(self):
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                with server.lock:
                    found = [c for c in reversed(server.created)
                             if c.form.get("To") == query.get("To") and c.form.get("From") == query.get("From")]
                self._send(200, {"messages": [server.message_json(c) for c in found],
                                 "next_page_uri": None, "page": 0, "page_size": 50,
                                 "uri": urlsplit(self.path).path, "first_page_uri": urlsplit(self.path).path})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @staticmethod
    def message_json(c: Created) -> dict:
        return {"sid": c.sid, "status": "queued", "to": c.form.get("To"), "from": c.form.get("From"),
                "body": c.form.get("Body"), "date_created": format_datetime(c.created), "date_sent": None,
                "num_segments": "1", "direction": "outbound-api", "account_sid": "AC" + "0" * 32,
                "api_version": "2010-04-01", "uri": f"/2010-04-01/Accounts/AC/Messages/{c.sid}.json"}

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def bodies(self) -> list[str]:
        with self.lock:
            return [c.form.get("Body", "") for c in self.created]

    def __enter__(self) -> "FakeTwilioServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
