"""No secret has a value written in the repository (issue 9, section 2).

Every secret comes from the environment. Missing, it stops the process with a message naming the variable (and,
outside production, where `make run` keeps the generated ones); in production a placeholder or a value written in
this repository is refused as well. No message ever holds the value.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared import secrets as local_secrets
from shared.config import BaseConfig, ConfigError, database_url, secret

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_MANIFEST = REPO_ROOT / "deploy" / "k8s" / "base" / "secret.yaml"
STRONG_KEY = "x9S2mQ7vL4pR8tW1zY6bN3cF5hJ0kD2gA7sE9uI4oP1"  # 43 characters, in no list
SECRET_VARIABLES = ("INTERNAL_API_KEY", "PROCESSOR_API_KEY", "SANDBOX_API_KEY", "IDENTITY_SECRET_KEY",
                    "PORTAL_ADMIN_PASSWORD", "AMQP_URL", "CELERY_BROKER_URL", "PG_BASE_URL",
                    "IDENTITY_DATABASE_URL", "BILLING_DATABASE_URL", "PAYMENTS_DATABASE_URL", "WEB_SECRET_KEY")


@pytest.fixture
def clean_env(monkeypatch):
    """No secret in the environment (tests/conftest.py gives the test tier its own values)."""
    for name in (*SECRET_VARIABLES, "PORTAL_ENV"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def production(clean_env):
    clean_env.setenv("PORTAL_ENV", "production")
    # The settings a production process has besides the one a test takes away.
    clean_env.setenv("INTERNAL_API_KEY", STRONG_KEY)
    clean_env.setenv("AMQP_URL", f"amqps://portal:{STRONG_KEY}@broker.internal:5671/portal")
    for service in ("identity", "billing", "payments"):
        clean_env.setenv(f"{service.upper()}_DATABASE_URL",
                         f"postgresql+psycopg://{service}:{STRONG_KEY}@db.internal:5432/portal_{service}")
    clean_env.setenv("PROCESSOR_API_KEY", "sk_live_" + STRONG_KEY)
    clean_env.setenv("WEB_SECRET_KEY", STRONG_KEY)
    return clean_env


def refusal(make) -> str:
    with pytest.raises(ConfigError) as caught:
        make()
    return str(caught.value)


# --- the rule --------------------------------------------------------------------------------------------------


def test_production_refuses_a_missing_secret_and_names_it(production):
    production.delenv("INTERNAL_API_KEY")
    message = refusal(lambda: BaseConfig(service="billing"))
    assert "INTERNAL_API_KEY" in message and "PORTAL_ENV=production" in message


@pytest.mark.parametrize("value", ["dev-internal-key", "CHANGE-ME", "change-me-please", "sk_test_sandbox",
                                   "Change-me: portal admin 2026!"])
def test_production_refuses_a_development_or_placeholder_value_without_printing_it(production, value):
    production.setenv("INTERNAL_API_KEY", value)
    message = refusal(lambda: BaseConfig(service="billing"))
    assert "INTERNAL_API_KEY" in message
    assert value not in message


def test_production_refuses_a_short_internal_key(production):
    production.setenv("INTERNAL_API_KEY", "e2e-internal")
    assert "INTERNAL_API_KEY" in refusal(lambda: BaseConfig(service="billing"))


def test_production_takes_a_real_secret(production):
    assert BaseConfig(service="billing").internal_api_key == STRONG_KEY


def test_outside_production_a_missing_secret_says_how_to_get_one(clean_env):
    message = refusal(lambda: BaseConfig(service="billing"))
    assert "INTERNAL_API_KEY" in message
    assert "var/secrets.env" in message and "make run" in message


def test_outside_production_an_explicit_value_is_taken_as_it_is(clean_env):
    clean_env.setenv("INTERNAL_API_KEY", "e2e-internal")
    assert BaseConfig(service="billing").internal_api_key == "e2e-internal"
    assert secret("INTERNAL_API_KEY") == "e2e-internal"


def test_no_config_has_a_default_secret(clean_env):
    """Today's defaults (dev-internal-key, sk_test_sandbox) are gone: each config needs its secrets given."""
    from gateway.config import GatewayConfig
    from services.billing.config import BillingConfig
    from services.identity.config import IdentityConfig
    from services.payments.config import PaymentsConfig
    from services.payments.sandbox.config import SandboxConfig

    for make in (GatewayConfig, IdentityConfig, BillingConfig, PaymentsConfig):
        assert "INTERNAL_API_KEY" in refusal(make)
    clean_env.setenv("INTERNAL_API_KEY", "e2e-internal")
    assert "WEB_SECRET_KEY" in refusal(GatewayConfig)  # the web's CSRF tokens are signed with it
    assert "PROCESSOR_API_KEY" in refusal(PaymentsConfig)
    assert "SANDBOX_API_KEY" in refusal(SandboxConfig)


@pytest.mark.parametrize("value", ["sk_test_e2e", "CHANGE-ME", "sk_test_sandbox"])
def test_production_refuses_a_test_or_placeholder_processor_key(production, value):
    from services.payments.config import PaymentsConfig

    production.setenv("PROCESSOR_API_KEY", value)
    message = refusal(PaymentsConfig)
    assert "PROCESSOR_API_KEY" in message and value not in message


# --- database and broker credentials ---------------------------------------------------------------------------


def test_production_needs_an_explicit_database_url(production):
    production.delenv("BILLING_DATABASE_URL")
    assert "BILLING_DATABASE_URL" in refusal(lambda: database_url("billing"))
    assert "BILLING_DATABASE_URL" in refusal(lambda: BaseConfig(service="billing"))


@pytest.mark.parametrize("url", ["postgresql+psycopg://billing:CHANGE-ME@postgres:5432/portal_billing",
                                 "postgresql+psycopg://portal:portal@postgres:5432/portal_billing",
                                 "postgresql+psycopg://postgres:postgres@db:5432/portal_billing"])
def test_production_refuses_a_development_database_password(production, url):
    production.setenv("BILLING_DATABASE_URL", url)
    message = refusal(lambda: BaseConfig(service="billing"))
    assert "BILLING_DATABASE_URL" in message and url not in message


@pytest.mark.parametrize("url", ["amqp://CHANGE-ME:CHANGE-ME@rabbitmq:5672/%2F", "amqp://guest:guest@rabbitmq:5672/%2F",
                                 "amqp://rabbitmq:5672/%2F"])
def test_production_refuses_development_broker_credentials(production, url):
    production.setenv("AMQP_URL", url)
    assert "AMQP_URL" in refusal(lambda: BaseConfig(service="billing"))


def test_production_refuses_the_built_in_broker_default(production):
    production.delenv("AMQP_URL")
    assert "AMQP_URL" in refusal(lambda: BaseConfig(service="billing"))


def test_the_gateway_needs_no_database_or_broker(production):
    from gateway.config import GatewayConfig

    for name in ("AMQP_URL", "IDENTITY_DATABASE_URL", "BILLING_DATABASE_URL", "PAYMENTS_DATABASE_URL"):
        production.delenv(name)
    assert GatewayConfig().internal_api_key == STRONG_KEY


# --- the kustomize base's placeholders -------------------------------------------------------------------------


def _placeholders() -> list[tuple[str, str]]:
    documents = [d for d in yaml.safe_load_all(SECRET_MANIFEST.read_text(encoding="utf-8")) if d]
    return [(name, value) for doc in documents for name, value in (doc.get("stringData") or {}).items()]


def test_the_base_secrets_are_all_placeholders():
    found = _placeholders()
    assert len(found) >= 8
    assert all("CHANGE-ME" in value for _, value in found)


@pytest.mark.parametrize(("name", "value"), _placeholders(), ids=[name for name, _ in _placeholders()])
def test_every_placeholder_of_the_kustomize_base_is_refused_in_production(production, tmp_path, name, value):
    from services.identity import keys
    from services.identity.config import IdentityConfig
    from services.payments.config import PaymentsConfig

    if name.endswith(".pem"):
        pem = tmp_path / name
        pem.write_text(value)
        production.setenv("JWT_PRIVATE_KEY_FILE", str(pem))
        message = refusal(lambda: keys.signing_key_pem(IdentityConfig()))
        assert "JWT_PRIVATE_KEY_FILE" in message
        return
    production.setenv(name, value)
    if name == "IDENTITY_SECRET_KEY":
        make = IdentityConfig
    elif name == "WEB_SECRET_KEY":
        from gateway.config import GatewayConfig

        make = GatewayConfig
    elif name == "PROCESSOR_API_KEY" or name.startswith("PAYMENTS_"):
        make = PaymentsConfig
    else:
        service = name.split("_")[0].lower() if name.endswith("_DATABASE_URL") else "billing"
        make = lambda: BaseConfig(service=service)  # noqa: E731
    message = refusal(make)
    assert name in message and "CHANGE-ME" not in message


# --- identity's key files --------------------------------------------------------------------------------------


def _identity_config(tmp_path, **overrides):
    from services.identity.config import IdentityConfig

    return IdentityConfig(private_key_file=str(tmp_path / "jwt.pem"), secret_key_file=str(tmp_path / "secret.key"),
                          **overrides)


def test_production_never_generates_identity_keys(production, tmp_path):
    from services.identity import keys

    config = _identity_config(tmp_path)
    assert "JWT_PRIVATE_KEY_FILE" in refusal(lambda: keys.signing_key_pem(config))
    assert "IDENTITY_SECRET_KEY" in refusal(lambda: keys.fernet(config))
    assert list(tmp_path.iterdir()) == []


def test_production_takes_identity_keys_it_is_given(production, tmp_path):
    from cryptography.fernet import Fernet

    from services.identity import keys
    from services.identity.domain.tokens import generate_private_key_pem

    (tmp_path / "jwt.pem").write_bytes(generate_private_key_pem())
    key = Fernet.generate_key().decode()
    production.setenv("IDENTITY_SECRET_KEY", key)
    config = _identity_config(tmp_path)
    assert keys.signing_key_pem(config).startswith(b"-----BEGIN")
    assert keys.fernet(config).decrypt(Fernet(key).encrypt(b"seed")) == b"seed"


def test_a_fernet_key_that_is_not_one_is_refused_by_name(clean_env, tmp_path):
    from services.identity import keys

    clean_env.setenv("INTERNAL_API_KEY", "unit-internal")
    clean_env.setenv("IDENTITY_SECRET_KEY", "not-a-fernet-key")
    message = refusal(lambda: keys.fernet(_identity_config(tmp_path)))
    assert "IDENTITY_SECRET_KEY" in message and "not-a-fernet-key" not in message


def test_outside_production_identity_creates_its_keys_once(clean_env, tmp_path):
    from services.identity import keys

    clean_env.setenv("INTERNAL_API_KEY", "unit-internal")
    config = _identity_config(tmp_path)
    first = keys.signing_key_pem(config), keys.fernet(config)
    assert keys.signing_key_pem(config) == first[0]
    assert stat.S_IMODE((tmp_path / "jwt.pem").stat().st_mode) == 0o600


# --- the first admin's password --------------------------------------------------------------------------------


def test_the_admin_password_has_no_default(clean_env):
    from services.identity import cli

    assert not hasattr(cli, "DEFAULT_ADMIN_PASSWORD")
    first, generated = cli.admin_password()
    second, _ = cli.admin_password()
    assert generated and first != second and len(first) >= 20


def test_the_admin_password_comes_from_the_environment(clean_env):
    from services.identity import cli

    clean_env.setenv("PORTAL_ADMIN_PASSWORD", "A long passphrase of my own 7")
    assert cli.admin_password() == ("A long passphrase of my own 7", False)


def test_production_refuses_a_missing_or_known_admin_password(production):
    from services.identity import cli

    assert "PORTAL_ADMIN_PASSWORD" in refusal(cli.admin_password)
    production.setenv("PORTAL_ADMIN_PASSWORD", "Change-me: portal admin 2026!")
    message = refusal(cli.admin_password)
    assert "PORTAL_ADMIN_PASSWORD" in message and "Change-me" not in message


# --- the local secrets file (`make run`) -----------------------------------------------------------------------


def test_the_local_secrets_file_is_made_once_and_kept(tmp_path):
    path = tmp_path / "var" / "secrets.env"
    assert local_secrets.ensure(path) == list(local_secrets.LOCAL)
    made = local_secrets.read(path)
    assert set(made) == set(local_secrets.LOCAL)
    assert made["SANDBOX_API_KEY"] == made["PROCESSOR_API_KEY"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_secrets.ensure(path) == []
    assert local_secrets.read(path) == made
    # Another checkout gets other values.
    other = tmp_path / "other.env"
    local_secrets.ensure(other)
    assert all(local_secrets.read(other)[name] != made[name] for name in local_secrets.LOCAL)


def test_a_secret_missing_from_the_file_is_added_and_the_others_kept(tmp_path):
    path = tmp_path / "secrets.env"
    path.write_text("# mine\nINTERNAL_API_KEY=kept-value-of-mine\n")
    added = local_secrets.ensure(path)
    assert "INTERNAL_API_KEY" not in added and "PORTAL_ADMIN_PASSWORD" in added
    assert local_secrets.read(path)["INTERNAL_API_KEY"] == "kept-value-of-mine"
    assert path.read_text().startswith("# mine\n")


def test_the_local_secrets_satisfy_every_config(tmp_path, clean_env):
    """What `make run` hands every process (honcho -e var/secrets.env) is enough for each config."""
    from honcho.environ import parse

    from services.payments.config import PaymentsConfig
    from services.payments.sandbox.config import SandboxConfig

    path = tmp_path / "secrets.env"
    local_secrets.ensure(path)
    for name, value in parse(path.read_text()).items():
        clean_env.setenv(name, value)
    assert PaymentsConfig().processor_api_key == SandboxConfig().api_key
    assert BaseConfig(service="billing").internal_api_key == local_secrets.read(path)["INTERNAL_API_KEY"]


def test_the_compose_secrets_file_holds_the_database_and_broker_passwords(tmp_path):
    path = tmp_path / ".env"
    local_secrets.ensure(path, local_secrets.COMPOSE)
    made = local_secrets.read(path)
    assert {"POSTGRES_PASSWORD", "PORTAL_DB_PASSWORD", "RABBITMQ_PASSWORD", "INTERNAL_API_KEY"} <= set(made)
    assert "PORTAL_ADMIN_PASSWORD" not in made


def test_the_command_prints_names_never_values(tmp_path):
    path = tmp_path / "secrets.env"
    done = subprocess.run([sys.executable, "-m", "shared.secrets", str(path)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr
    assert "INTERNAL_API_KEY" in done.stdout
    assert all(value not in done.stdout + done.stderr for value in local_secrets.read(path).values())


PROBE = """
import json, os
from services.payments.app import create_app
from services.payments.config import PaymentsConfig
app = create_app(PaymentsConfig(database_url="postgresql+psycopg://unused@127.0.0.1:1/unused", testing=True))
client = app.test_client()
body = {"client_id": "00000000-0000-0000-0000-000000000000", "amount_cents": 100, "currency": "USD"}
old = client.post("/internal/v1/autopay-charges", json=body,
                  headers={"Authorization": "Bearer dev-internal-key", "Idempotency-Key": "probe-1"})
own = client.post("/internal/v1/autopay-charges", json={},
                  headers={"Authorization": "Bearer " + os.environ["INTERNAL_API_KEY"], "Idempotency-Key": "probe-2"})
print(json.dumps({"old": old.status_code, "old_type": old.headers["Content-Type"], "own": own.status_code}))
"""


def test_under_make_runs_secrets_the_internal_route_refuses_the_old_development_key(tmp_path):
    """The probe of issue 9: `Authorization: Bearer dev-internal-key` was billing's key on every `make run`.
    In a process of its own, started as `make run` starts payments (honcho run -e var/secrets.env): the blueprints
    are the module's, so one process builds one payments app."""
    path = tmp_path / "secrets.env"
    local_secrets.ensure(path)
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES and k != "PORTAL_ENV"}
    done = subprocess.run([str(Path(sys.executable).with_name("honcho")), "run", "-e", str(path), sys.executable,
                           "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["old"] == 401 and answer["old_type"].startswith("application/problem+json")
    # The generated key is the one it takes (what happens next is payments' business, not this test's).
    assert answer["own"] != 401
