"""Every service's domain/ is pure Python: it never imports the HTTP problem types (shared.errors), Flask or
SQLAlchemy. Its errors say what went wrong; the service's api/errors.py maps them to answers (ERROR_MAP).

Services are the folders of services/ with a domain/ package, found at run time, so a new service is checked
without touching this file. The last tests show the checker does find what it forbids."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("shared.errors", "flask", "sqlalchemy")


def domain_packages(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "services").glob("*/domain") if any(p.rglob("*.py")))


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def impure_imports(domain: Path) -> list[str]:
    """`path:line: module`, once per import statement of a forbidden module under `domain`. Relative imports stay
    inside the service's own package, where none of the forbidden modules is."""
    found = []
    for path in sorted(domain.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                # `from shared import errors` imports shared.errors too
                modules = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            found += [f"{path.relative_to(domain.parent.parent.parent)}:{node.lineno}: {m}"
                      for m in modules if _forbidden(m)][:1]
    return found


def test_every_service_with_rules_is_checked():
    assert "identity" in domain_packages(REPO_ROOT)


@pytest.mark.parametrize("service", domain_packages(REPO_ROOT))
def test_a_services_domain_imports_no_http_errors_flask_or_sqlalchemy(service):
    assert impure_imports(REPO_ROOT / "services" / service / "domain") == []


# --- the checker finds what it forbids ------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "from shared.errors import Conflict\n",
    "from shared import errors\n",
    "import shared.errors\n",
    "import flask\n",
    "from flask import current_app\n",
    "from sqlalchemy import select\n",
    "import sqlalchemy.orm as orm\n",
    "def f():\n    from sqlalchemy.orm import Session\n",
])
def test_the_checker_finds_an_impure_import(tmp_path, source):
    domain = tmp_path / "services" / "demo" / "domain"
    domain.mkdir(parents=True)
    (domain / "rules.py").write_text(source)
    assert len(impure_imports(domain)) == 1


@pytest.mark.parametrize("source", [
    "from shared.errorsx import A\n",  # a name that only begins the same
    "import flaskish\n",
    "from shared.db import utcnow\n",
    "from services.demo.domain.errors import Refused\n",
    "from .errors import Refused\n",
])
def test_the_checker_lets_pure_imports_pass(tmp_path, source):
    domain = tmp_path / "services" / "demo" / "domain"
    domain.mkdir(parents=True)
    (domain / "rules.py").write_text(source)
    assert impure_imports(domain) == []
