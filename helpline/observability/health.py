"""Readiness: the database answers and its schema is at the newest migration."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from ..config import ROOT
from ..db import db


@lru_cache(maxsize=4)
def _scripts(directory: str) -> ScriptDirectory:
    """The migrations the code ships with (read once: the files do not change while it runs)."""
    config = Config()
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config)


@dataclass
class Readiness:
    database: str = "down"
    migrations: str = "unknown"
    expected: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.migrations == "ok"

    def as_dict(self) -> dict:
        return {"status": "ready" if self.ready else "unavailable", "database": self.database,
                "migrations": self.migrations, "expected": self.expected, "current": self.current}


def readiness(migrations_dir: str | None = None) -> Readiness:
    """Ready when the database answers and stands at every head revision the code ships with."""
    scripts = _scripts(migrations_dir or str(ROOT / "migrations"))
    result = Readiness(expected=sorted(scripts.get_heads()))
    try:
        with db.engine.connect() as conn:
            result.current = sorted(MigrationContext.configure(conn).get_current_heads())
    except Exception:
        return result
    result.database = "ok"
    known = {rev.revision for rev in scripts.walk_revisions()}
    if result.current == result.expected:
        result.migrations = "ok"
    elif not result.current:
        result.migrations = "not migrated"
    elif set(result.current) - known:
        result.migrations = "unknown revision"  # the database is newer than this code
    else:
        result.migrations = "behind"  # run: flask --app helpline db upgrade
    return result
