"""The 02380 248725 back-pain help line: Twilio webhooks, triage flows and the callback queue."""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping

from flask import Flask
from flask_migrate import Migrate

from . import jsoncodec
from .config import ROOT, database_url, from_environment
from .db import db
from .service import Helpline
from .web.cookies import CookieSessions
from .web.requests import HelplineRequest

migrate = Migrate()
log = logging.getLogger(__name__)


class InvalidFlows(RuntimeError):
    """The app refuses to start with a flow that fails validation."""


def load_checked_flows(directory: str):
    from .engine.validate import check_directory

    flows, errors = check_directory(directory)
    if errors:
        raise InvalidFlows("invalid flows:\n" + "\n".join(str(e) for e in errors))
    return flows


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the help line: settings from the environment, overridden by `config` (tests)."""
    app = Flask(__name__, instance_relative_config=True)
    app.session_interface = CookieSessions()
    app.request_class = HelplineRequest
    settings = from_environment()
    settings.update(config or {})
    app.config.update(settings)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(app.config["DATABASE_URL"], app.instance_path)
    # hide_parameters: a database error in the logs must not carry a caller's number or words.
    # No pool_pre_ping: a ping on every checkout is a round trip on every request. A server's
    # connections are pinged only after sitting idle (db.ping_when_idle, below); a SQLite file
    # cannot drop a connection at all.
    # JSON columns are written and read with orjson (helpline.jsoncodec).
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
        "hide_parameters": True, "json_serializer": jsoncodec.dumps, "json_deserializer": jsoncodec.loads})
    from .observability import init_app as init_observability

    init_observability(app)  # JSON logs with request ids, redacted; Prometheus metrics

    from . import models  # noqa: F401  (registers the tables)
    from .privacy import models as privacy_models  # noqa: F401  (the data protection log)
    from .staff import models as _staff_models  # noqa: F401
    from .notify import models as notify_models  # noqa: F401  (the outbox)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    _sqlite_pragmas(app)
    _ping_server_connections(app)

    from .privacy.notice import privacy_url, with_privacy_url

    flows = with_privacy_url(load_checked_flows(app.config["FLOWS_DIR"]), privacy_url(app.config))
    app.extensions["helpline"] = Helpline.from_config(app.config, flows)
    if app.config["INSECURE_SKIP_SIGNATURES"]:
        log.warning("HELPLINE_INSECURE_SKIP_SIGNATURES is on: webhooks are NOT authenticated. Never in production.")

    from .web import health, sms, voice

    app.register_blueprint(health.bp)
    app.register_blueprint(voice.bp)
    app.register_blueprint(sms.bp)
    from .privacy import web as privacy_web  # the privacy notice page

    app.register_blueprint(privacy_web.bp)

    from . import staff
    from .web import dashboard

    staff.init_app(app)  # Flask-Login, CSRF (checked by the dashboard's blueprint), queue settings
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(dashboard.calls_bp)
    from .web import simulator  # the phone simulator and the flow map

    app.register_blueprint(simulator.bp)

    from .cli import register

    register(app)
    from .web.webhooks import Webhooks

    # The conversation's webhooks are answered in front of Flask's request machinery (see there).
    app.wsgi_app = Webhooks(app, app.wsgi_app)  # type: ignore[method-assign]
    return app


def _ping_server_connections(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from .db import ping_when_idle

    with app.app_context():
        ping_when_idle(db.engine)


def _sqlite_pragmas(app: Flask) -> None:
    """SQLite: write-ahead logging and a busy timeout, so web and worker processes share the file."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
