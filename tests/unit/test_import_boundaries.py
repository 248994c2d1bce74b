"""Import boundaries: a service imports only `shared`, itself, the standard library and third-party packages.

shared/ never imports services or the gateway; the gateway never imports a service. Services are the
folders of services/ (found at run time, so a new service is checked without touching this file).
The checker is a function returning the violations it finds, and the last tests show it does find them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file; relative imports are resolved.

    `from pkg import name` also yields `pkg.name`, since `name` may be a submodule
    (`from services import billing` imports the billing service).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(root, path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                if node.level - 1 > len(package):
                    base = []
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module:
                found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}" if module else alias.name)
                      for alias in node.names if alias.name != "*"]
    return found


def service_names(root: Path) -> list[str]:
    services = root / "services"
    return sorted(p.name for p in services.iterdir()
                  if p.is_dir() and not p.name.startswith((".", "_")) and any(p.rglob("*.py")))


def _top(module: str, depth: int) -> tuple[str, ...]:
    return tuple(module.split(".")[:depth])


def forbidden(owner: str, module: str) -> bool:
    """May code owned by `owner` ("shared", "gateway" or "services.<name>") import `module`?"""
    top = module.split(".")[0]
    if owner == "shared":
        return top in ("services", "gateway")
    if owner == "gateway":
        return top == "services"
    # a service: its own package, shared, stdlib and third-party; never gateway nor another service
    if top == "gateway":
        return True
    if top == "services":
        parts = module.split(".")
        # bare `services` (the namespace package) is harmless; `services.<x>` must be itself
        return len(parts) > 1 and _top(module, 2) != tuple(owner.split("."))
    return False


def violations(root: Path) -> list[str]:
    """Every forbidden import under root/shared, root/gateway and root/services/<name>, as readable lines."""
    owners: list[tuple[str, Path]] = [("shared", root / "shared"), ("gateway", root / "gateway")]
    owners += [(f"services.{name}", root / "services" / name) for name in service_names(root)]
    found: dict[tuple[str, int, str], str] = {}
    for owner, folder in owners:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            key_base = str(path.relative_to(root))
            for line, module in imported_modules(root, path):
                key = (key_base, line, owner)
                # one report per statement: `from a.b import c` names a.b, not a.b.c as well
                if forbidden(owner, module) and (key not in found or len(module) < len(found[key])):
                    found[key] = module
    return sorted(f"{where}:{line}: {owner} imports {module}"
                  for (where, line, owner), module in found.items())


# --- the real tree ----------------------------------------------------------------------------

def test_the_services_folder_is_discovered():
    names = service_names(REPO_ROOT)
    assert "identity" in names
    assert "__pycache__" not in names


def test_every_service_shared_and_gateway_keep_their_import_boundaries():
    assert violations(REPO_ROOT) == []


def test_the_checker_really_reads_the_tree():
    """Guards against a vacuous pass: the real tree's imports are found and include the allowed kinds."""
    modules = {m for p in (REPO_ROOT / "services" / "identity").rglob("*.py")
               for _, m in imported_modules(REPO_ROOT, p)}
    assert "shared.errors" in modules  # shared
    assert any(m.startswith("services.identity.") for m in modules)  # itself
    assert "sqlalchemy" in modules or any(m.startswith("sqlalchemy.") for m in modules)  # third party


# --- the checker can fail -----------------------------------------------------------------------

def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def fake_tree(tmp_path) -> Path:
    """Two clean services, shared and gateway; tests add one forbidden import each."""
    _write(tmp_path, "services/__init__.py", "")
    for name in ("billing", "payments"):
        _write(tmp_path, f"services/{name}/__init__.py", "")
        _write(tmp_path, f"services/{name}/domain/__init__.py", "")
        _write(tmp_path, f"services/{name}/service.py",
               f"import json\nimport sqlalchemy\nfrom shared.db import new_id\n"
               f"from services.{name}.domain import rules\nfrom .domain import rules as r\n")
    _write(tmp_path, "shared/__init__.py", "")
    _write(tmp_path, "shared/db.py", "import uuid\nfrom shared import logs\n")
    _write(tmp_path, "gateway/__init__.py", "")
    _write(tmp_path, "gateway/proxy.py", "import urllib3\nfrom shared.auth import TokenVerifier\n")
    return tmp_path


def test_a_clean_fake_tree_has_no_violations(fake_tree):
    assert violations(fake_tree) == []


@pytest.mark.parametrize(("relative", "source", "expected"), [
    ("services/billing/service.py", "from services.payments.models import Payment\n",
     "services/billing/service.py:1: services.billing imports services.payments.models"),
    ("services/billing/api/staff.py", "import services.payments\n",
     "services/billing/api/staff.py:1: services.billing imports services.payments"),
    ("services/billing/tasks.py", "def later():\n    from services import payments\n",
     "services/billing/tasks.py:2: services.billing imports services.payments"),
    ("services/billing/domain/allocation.py", "from ...payments import models\n",
     "services/billing/domain/allocation.py:1: services.billing imports services.payments"),
    ("services/payments/app.py", "from gateway.routes import ROUTES\n",
     "services/payments/app.py:1: services.payments imports gateway.routes"),
    ("shared/web.py", "from services.billing.domain import rules\n",
     "shared/web.py:1: shared imports services.billing.domain"),
    ("shared/auth.py", "import gateway.config\n",
     "shared/auth.py:1: shared imports gateway.config"),
    ("gateway/app.py", "from services.billing.app import create_app\n",
     "gateway/app.py:1: gateway imports services.billing.app"),
])
def test_a_forbidden_import_is_reported(fake_tree, relative, source, expected):
    _write(fake_tree, relative, source)
    assert expected in violations(fake_tree)


def test_a_service_added_later_is_checked_too(fake_tree):
    _write(fake_tree, "services/scheduling/__init__.py", "")
    _write(fake_tree, "services/scheduling/events.py", "from services.billing.events import publish\n")
    assert violations(fake_tree) == [
        "services/scheduling/events.py:1: services.scheduling imports services.billing.events"]
