"""Configuration: the only module that reads the environment."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

ROOT = Path(__file__).resolve().parent.parent


def database_url(raw: str | None, instance_path: str) -> str:
    """The SQLAlchemy URL: SQLite under instance/ by default; psycopg 3 for PostgreSQL."""
    if not raw:
        return f"sqlite:///{Path(instance_path) / 'helpline.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read every setting the help line has from the environment (see README, Configuration)."""
    env = os.environ if environ is None else environ
    return {
        "DATABASE_URL": env.get("DATABASE_URL", ""),
        "SECRET_KEY": env.get("SECRET_KEY") or secrets.token_hex(32),
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "HELPLINE_NUMBER": env.get("HELPLINE_NUMBER", "+442380248725"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "").rstrip("/"),
        # Development only: accept unsigned webhooks. Logged loudly at start-up and on each request.
        "INSECURE_SKIP_SIGNATURES": _flag(env.get("HELPLINE_INSECURE_SKIP_SIGNATURES"), False),
        # Development or a training copy: the phone simulator open to anyone who can reach it.
        "SIMULATOR_OPEN": _flag(env.get("HELPLINE_SIMULATOR_OPEN"), False),
        "OPENING_HOURS": env.get("HELPLINE_OPENING_HOURS", "Mon-Fri 08:00-18:00"),
        "TIMEZONE": env.get("HELPLINE_TIMEZONE", "Europe/London"),
        "BANK_HOLIDAYS": env.get("HELPLINE_BANK_HOLIDAYS", "GB-ENG"),
        "URGENT_CALLBACK_HOURS": float(env.get("HELPLINE_URGENT_CALLBACK_HOURS", "2")),
        "ROUTINE_CALLBACK_DAYS": int(env.get("HELPLINE_ROUTINE_CALLBACK_DAYS", "3")),
        "WELFARE_CHECK_MINUTES": int(env.get("HELPLINE_WELFARE_CHECK_MINUTES", "60")),
        "SMS_IDLE_MINUTES": int(env.get("HELPLINE_SMS_IDLE_MINUTES", "120")),
        "SPEECH_CONFIDENCE": float(env.get("HELPLINE_SPEECH_CONFIDENCE", "0.5")),
        "VOICE_NAME": env.get("HELPLINE_VOICE", "Polly.Amy"),
        "FLOWS_DIR": env.get("HELPLINE_FLOWS_DIR", str(ROOT / "flows")),
        "DEFAULT_FLOW": env.get("HELPLINE_DEFAULT_FLOW", "back_pain"),
        # Data protection (docs/data-protection.md): where the privacy notice lives and how long each
        # kind of record is kept. The defaults are for the data protection officer to confirm.
        "PRIVACY_URL": env.get("HELPLINE_PRIVACY_URL", ""),
        "RETAIN_TRANSCRIPTS_DAYS": int(env.get("HELPLINE_RETAIN_TRANSCRIPTS_DAYS", "90")),
        "RETAIN_CONVERSATIONS_DAYS": int(env.get("HELPLINE_RETAIN_CONVERSATIONS_DAYS", "365")),
        "RETAIN_CALLBACKS_DAYS": int(env.get("HELPLINE_RETAIN_CALLBACKS_DAYS", "365")),
        "RETAIN_AUDIT_DAYS": int(env.get("HELPLINE_RETAIN_AUDIT_DAYS", "730")),
        "RETAIN_OUTBOX_DAYS": int(env.get("HELPLINE_RETAIN_OUTBOX_DAYS", "30")),
        "PURGE_BATCH_SIZE": int(env.get("HELPLINE_PURGE_BATCH_SIZE", "500")),
        "EXPORT_DIR": env.get("HELPLINE_EXPORT_DIR", ""),
        # Operations (docs/operations.md): JSON-lines logs and the Prometheus endpoint.
        "LOG_FORMAT": env.get("HELPLINE_LOG_FORMAT", "json"),  # json | text
        "LOG_LEVEL": env.get("HELPLINE_LOG_LEVEL", "INFO"),
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),  # unset: /metrics answers 404
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR", ""),
        # Outbound texts (docs/outbound.md): who gets staff alerts, and how the worker sends and retries.
        "STAFF_ALERT_NUMBERS": env.get("HELPLINE_STAFF_ALERT_NUMBERS", ""),  # comma-separated on-call mobiles
        "WORKER_POLL_SECONDS": float(env.get("HELPLINE_WORKER_POLL_SECONDS", "5")),
        "WORKER_SWEEP_SECONDS": float(env.get("HELPLINE_WORKER_SWEEP_SECONDS", "60")),
        "OUTBOX_BATCH_SIZE": int(env.get("HELPLINE_OUTBOX_BATCH_SIZE", "50")),
        "OUTBOX_MAX_ATTEMPTS": int(env.get("HELPLINE_OUTBOX_MAX_ATTEMPTS", "8")),
        "OUTBOX_RETRY_BASE_SECONDS": float(env.get("HELPLINE_OUTBOX_RETRY_BASE_SECONDS", "30")),
        "OUTBOX_RETRY_MAX_SECONDS": float(env.get("HELPLINE_OUTBOX_RETRY_MAX_SECONDS", "3600")),
        "OUTBOX_STALE_SECONDS": float(env.get("HELPLINE_OUTBOX_STALE_SECONDS", "120")),
        "OUTBOX_CHECK_DELAY_SECONDS": float(env.get("HELPLINE_OUTBOX_CHECK_DELAY_SECONDS", "30")),
        "OUTBOX_HTTP_TIMEOUT_SECONDS": float(env.get("HELPLINE_OUTBOX_HTTP_TIMEOUT_SECONDS", "15")),
        "TWILIO_API_BASE_URL": env.get("TWILIO_API_BASE_URL", ""),  # a mock of Twilio's API; empty in production
        # Staff dashboard (helpline/staff): failed callbacks retry, then go to a supervisor.
        "CALLBACK_MAX_ATTEMPTS": int(env.get("HELPLINE_CALLBACK_ATTEMPTS", "3")),
        "CALLBACK_RETRY_MINUTES": int(env.get("HELPLINE_CALLBACK_RETRY_MINUTES", "30")),
        # No webhook or staff form comes near this (a 1,600-character text of emoji is about 20 kB):
        # a bigger body is refused (413) before it is read into memory.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "SESSION_COOKIE_SECURE": _flag(env.get("HELPLINE_SECURE_COOKIES"), True),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=float(env.get("HELPLINE_STAFF_SESSION_HOURS", "8"))),
    }
