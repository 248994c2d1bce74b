"""Session fixtures: real PostgreSQL and RabbitMQ for the integration and end-to-end tiers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No config has a default secret (shared.config.secret): the test tier passes its own, explicit and never a
# production one. A test about a missing secret removes them (tests/unit/test_config_secrets.py).
os.environ.setdefault("INTERNAL_API_KEY", "test-tier-internal-key")
os.environ.setdefault("PROCESSOR_API_KEY", "sk_test_test_tier")
os.environ.setdefault("SANDBOX_API_KEY", "sk_test_test_tier")
os.environ.setdefault("WEB_SECRET_KEY", "test-tier-web-secret-key-0123456789abcdef")

from tests.support import infra as infra_mod


def pytest_addoption(parser):
    parser.addoption("--screenshots", default=None, metavar="DIR",
                     help="the browser tier's tour of every page also writes a PNG of each into DIR (make screenshots)")


@pytest.fixture(scope="session")
def infra():
    """One run's databases (prefix portal_test_<run>_) and RabbitMQ vhost; dropped at the end."""
    try:
        found = infra_mod.Infra(pg_base_url=infra_mod.find_postgres(), amqp_base_url=infra_mod.find_rabbitmq())
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    vhost = f"portal-test-{found.run_id}"
    if infra_mod.create_vhost(vhost):
        found.vhost = vhost
    yield found
    from shared.manage import services_with_migrations
    from shared.migrations import drop_database

    for service in services_with_migrations():
        drop_database(found.database_url(service))
    if found.vhost:
        infra_mod.delete_vhost(found.vhost)
    infra_mod.stop_containers()


@pytest.fixture(scope="session")
def migrated(infra):
    """Every service's database of this run, migrated to head."""
    from shared.manage import services_with_migrations
    from shared.migrations import upgrade

    for service in services_with_migrations():
        upgrade(service, infra.database_url(service))
    return infra


@pytest.fixture(scope="session")
def chromium():
    """One Playwright and one Debian Chromium for the whole run, shared by every browser test (Playwright's sync
    API runs one instance per thread: a second one beside it refuses to start). No browser is downloaded:
    `make test` installs Debian's chromium (scripts/ensure-browser.sh)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (make install)")
    path = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` installs Debian's chromium (scripts/ensure-browser.sh)",
                    pytrace=False)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(path), args=["--no-sandbox"])
        yield browser
        browser.close()
