"""/readyz: ready only when the database answers and stands at the migrations' head."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from helpline import create_app
from helpline.db import db


def test_ready_at_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready" and body["database"] == "ok" and body["migrations"] == "ok"
    assert body["current"] == body["expected"] and len(body["expected"]) == 1


@pytest.mark.parametrize("stored, verdict", [("0003", "behind"), ("9999", "unknown revision"), (None, "not migrated")])
def test_not_ready_when_the_schema_is_not_at_head(app, client, stored, verdict):
    (head,) = client.get("/readyz").get_json()["expected"]
    try:
        with db.engine.begin() as conn:
            if stored is None:
                conn.execute(text("DELETE FROM alembic_version"))
            else:
                conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": stored})
        response = client.get("/readyz")
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable" and response.get_json()["migrations"] == verdict
    assert client.get("/readyz").status_code == 200


def test_not_ready_when_the_database_is_down(app):
    down = create_app({**app.config, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/nowhere"})
    response = down.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "down"
    assert down.test_client().get("/healthz").status_code == 503  # liveness checks the database too
