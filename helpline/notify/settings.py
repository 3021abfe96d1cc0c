"""The outbound-message settings, read once from the app's config (helpline.config reads the environment)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from flask import current_app

from .. import phones


@dataclass(frozen=True)
class NotifySettings:
    staff_numbers: tuple[str, ...]   # on-call mobiles that get staff alerts, E.164
    public_base_url: str             # links in staff alerts; StatusCallback
    poll_seconds: float              # the worker's pause when nothing is due
    batch_size: int                  # texts one pass sends before it checks the rest again
    max_attempts: int                # tries before a transient failure becomes failed
    retry_base_seconds: float        # first pause after a transient failure; doubles each time
    retry_max_seconds: float         # the longest pause
    stale_seconds: float             # a send begun this long ago with no result is in doubt
    check_delay_seconds: float       # pause before looking up a send whose outcome was not seen
    sweep_seconds: float             # how often the worker closes idle conversations

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "NotifySettings":
        numbers = []
        for raw in str(config.get("STAFF_ALERT_NUMBERS") or "").replace(";", ",").split(","):
            if raw.strip():
                number = phones.to_e164(raw.strip())
                if number is None:
                    raise ValueError(f"HELPLINE_STAFF_ALERT_NUMBERS: {raw.strip()!r} is not a valid phone number")
                numbers.append(number)
        return cls(
            staff_numbers=tuple(dict.fromkeys(numbers)),
            public_base_url=str(config.get("PUBLIC_BASE_URL") or "").rstrip("/"),
            poll_seconds=float(config.get("WORKER_POLL_SECONDS", 5)),
            batch_size=int(config.get("OUTBOX_BATCH_SIZE", 50)),
            max_attempts=int(config.get("OUTBOX_MAX_ATTEMPTS", 8)),
            retry_base_seconds=float(config.get("OUTBOX_RETRY_BASE_SECONDS", 30)),
            retry_max_seconds=float(config.get("OUTBOX_RETRY_MAX_SECONDS", 3600)),
            stale_seconds=float(config.get("OUTBOX_STALE_SECONDS", 120)),
            check_delay_seconds=float(config.get("OUTBOX_CHECK_DELAY_SECONDS", 30)),
            sweep_seconds=float(config.get("WORKER_SWEEP_SECONDS", 60)),
        )


def current() -> NotifySettings:
    """The running app's settings, parsed on first use and kept with the app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings = app.extensions.get("notify")
    if settings is None:
        settings = app.extensions["notify"] = NotifySettings.from_config(app.config)
    return settings
