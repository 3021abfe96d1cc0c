"""The engine and triage rules stay pure: no Flask, SQLAlchemy or Twilio, so they run and test anywhere."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("flask", "flask_sqlalchemy", "flask_migrate", "flask_login", "flask_wtf", "sqlalchemy", "alembic", "twilio")
PURE_FILES = sorted((REPO / "helpline" / "engine").glob("*.py")) + [REPO / "helpline" / "triage.py"]

# helpline/__init__.py is the Flask app factory; load the subpackages under a bare parent so that
# only what the engine itself imports ends up in sys.modules.
PROBE = """
import json, sys, types
parent = types.ModuleType("helpline")
parent.__path__ = [{helpline!r}]
sys.modules["helpline"] = parent
import helpline.engine, helpline.engine.validate, helpline.engine.gsm, helpline.triage
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})))
"""


def test_importing_the_engine_loads_no_web_database_or_telephony_library():
    code = PROBE.format(helpline=str(REPO / "helpline"), forbidden=list(FORBIDDEN))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert json.loads(out.stdout) == []


def test_no_engine_file_imports_them_anywhere_even_inside_a_function():
    for path in PURE_FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
