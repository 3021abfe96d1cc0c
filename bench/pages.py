"""Staff pages on a loaded database: the queue page, its polled rows and a case's timeline.

Timed in-process through the whole Flask app (sign-in, queries, templates), signed in as a
supervisor, who sees every queue. When the staff dashboard is not part of the app, says so.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

PASSWORD = "bench-password-correct-horse-battery"


def _timed(client, path: str, n: int) -> dict[str, Any]:
    times = []
    status = None
    size = 0
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        status, size = response.status_code, len(response.data)
        if status != 200:
            break
    times.sort()
    return {"path": path, "status": status, "bytes": size, "n": len(times),
            "median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "best_ms": round(times[0], 2)}


def time_pages(url: str, smoke: bool = False) -> dict[str, Any]:
    """Median and 95th percentile of each staff page, in milliseconds."""
    from sqlalchemy import select

    from helpline import create_app
    from helpline.db import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "SESSION_COOKIE_SECURE": False, "TWILIO_AUTH_TOKEN": "bench"})
    if "dashboard.queue_page" not in app.view_functions:
        return {"available": False, "reason": "the staff dashboard is not part of the app at this commit"}
    from helpline.models import Callback
    from helpline.staff.auth import create_staff
    from helpline.staff.settings import ROLES

    role = "supervisor" if "supervisor" in ROLES else ROLES[-1]
    n = 3 if smoke else 30
    with app.app_context():
        create_staff("bench.supervisor@example.org", "Bench Supervisor", role, PASSWORD, None,
                     app.extensions["helpline"].now())
        db.session.commit()
        case_id = db.session.scalar(select(Callback.id).where(Callback.status == "open")
                                    .order_by(Callback.id.desc()).limit(1))
        open_items = db.session.query(Callback).filter(Callback.status == "open").count()
        db.session.remove()
    client = app.test_client()
    login = client.post("/staff/login", data={"email": "bench.supervisor@example.org", "password": PASSWORD})
    if login.status_code not in (302, 303):
        return {"available": False, "reason": f"could not sign in (HTTP {login.status_code})"}
    out: dict[str, Any] = {"available": True, "role": role, "open_callbacks": open_items,
                           "queue_page": _timed(client, "/staff/", n),
                           "queue_rows": _timed(client, "/staff/queue/rows", n)}
    if case_id is not None:
        out["case_timeline"] = _timed(client, f"/staff/cases/{case_id}", n)
    with app.app_context():
        db.engine.dispose()
    return out
