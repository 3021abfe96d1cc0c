"""The adapter the help line owns around twilio.rest.Client: send one text, or find one Twilio already has.

The worker knows only `send`, `find`, `Accepted` and `SendFailed`; tests give it a fake of this
class, and this class its own tests against the real twilio library.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from . import retry

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
# Twilio's clock and ours may differ a little: look this far before the attempt began.
CLOCK_SKEW = timedelta(minutes=2)
# How many of the number's latest messages to search when checking a send we could not see end.
FIND_LIMIT = 50


@dataclass(frozen=True)
class Accepted:
    """Twilio took the message: its SID and the status it reported (usually queued)."""

    sid: str
    status: str


class SendFailed(Exception):
    """A send that did not end in Twilio accepting the message. outcome is one of retry's constants."""

    def __init__(self, outcome: str, message: str, code: int | None = None, http_status: int | None = None):
        super().__init__(message)
        self.outcome, self.code, self.http_status, self.message = outcome, code, http_status, message


class LookupFailed(Exception):
    """Twilio's message list could not be read; the question stays open."""


class _Rebased(HttpClient):
    """Send the library's requests to another base URL (a mock of Twilio's API) instead of api.twilio.com."""

    def __init__(self, inner: HttpClient, base_url: str):
        super().__init__(inner.logger, False, inner.timeout)
        self.inner, self.base_url = inner, base_url.rstrip("/")

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        return self.inner.request(method, url, params=params, data=data, headers=headers, auth=auth,
                                  timeout=timeout, allow_redirects=allow_redirects)


def _address(number: str, channel: str) -> str:
    return f"whatsapp:{number}" if channel == "whatsapp" else number


def _never_left(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached Twilio: no connection was ever made."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        seen, cause = set(), exc.__context__ or exc.__cause__
        text = " ".join(str(a) for a in exc.args)
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            text += " " + type(cause).__name__
            cause = cause.__context__ or cause.__cause__
        return any(mark in text for mark in ("NewConnectionError", "NameResolutionError",
                                             "Failed to establish a new connection", "Connection refused"))
    return False


def _utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


class TwilioSender:
    """Send texts with twilio.rest.Client, asking for delivery reports at StatusCallback."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, status_callback: str | None,
                 http_client: Optional[HttpClient] = None, api_base_url: str = "", timeout: float = 15.0):
        if not account_sid or not auth_token:
            raise ValueError("sending texts needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        http = http_client or TwilioHttpClient(timeout=timeout)
        if api_base_url:
            http = _Rebased(http, api_base_url)
        self.client = Client(account_sid, auth_token, http_client=http)
        self.from_number = from_number
        self.status_callback = status_callback or None

    @classmethod
    def from_config(cls, config: Mapping[str, Any], http_client: Optional[HttpClient] = None) -> "TwilioSender":
        base = config.get("PUBLIC_BASE_URL") or ""
        if not base:
            log.warning("PUBLIC_BASE_URL is not set: texts go without a StatusCallback, so no delivery reports")
        return cls(
            config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config["HELPLINE_NUMBER"],
            f"{base}/sms/status" if base else None, http_client=http_client,
            api_base_url=config.get("TWILIO_API_BASE_URL") or "",
            timeout=float(config.get("OUTBOX_HTTP_TIMEOUT_SECONDS") or 15),
        )

    def send(self, to: str, body: str, channel: str = "sms") -> Accepted:
        """Create the message; raises SendFailed saying whether to retry, give up, or check first."""
        kwargs: dict[str, Any] = {"to": _address(to, channel), "from_": _address(self.from_number, channel),
                                  "body": body}
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            outcome = retry.classify(exc.status, exc.code)
            raise SendFailed(outcome, str(exc.msg) or f"HTTP {exc.status}", exc.code, exc.status) from exc
        except requests.RequestException as exc:
            outcome = retry.RETRY if _never_left(exc) else retry.UNKNOWN
            raise SendFailed(outcome, f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - e.g. an unreadable 201: Twilio may still have the message
            raise SendFailed(retry.UNKNOWN, f"{type(exc).__name__}: {exc}") from exc
        return Accepted(message.sid, str(message.status or "queued"))

    def find(self, to: str, body: str, since: datetime, channel: str = "sms",
             exclude: frozenset[str] = frozenset()) -> Accepted | None:
        """The message Twilio accepted from us to `to` with this body since `since` (naive UTC), if any.

        `exclude` holds SIDs already matched to other rows, so two identical texts are told apart.
        """
        try:
            messages = self.client.messages.list(to=_address(to, channel), from_=_address(self.from_number, channel),
                                                 limit=FIND_LIMIT)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the question open
            raise LookupFailed(f"{type(exc).__name__}: {exc}") from exc
        earliest = since - CLOCK_SKEW
        for message in messages:
            created = message.date_created
            if message.sid in exclude or message.body != body:
                continue
            if created is not None and _utc_naive(created) < earliest:
                continue
            return Accepted(message.sid, str(message.status or "queued"))
        return None
