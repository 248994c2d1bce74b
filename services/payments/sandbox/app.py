"""The sandbox card processor: a small Flask app that speaks the processor API of shared/API.md.

NOT FOR PRODUCTION. `create_app()` refuses to start when PORTAL_ENV=production; only
development, CI and tests run it (on http://127.0.0.1:8090 under `make run`).

Browsers send the card number here (`POST /v1/tokens`, CORS, no key) and hand our
services the token; our payments service charges and refunds tokens with the secret
key (`SANDBOX_API_KEY`). The test cards of API.md decide each charge's outcome. The
portal can instead frame the processor's hosted card fields (`GET /v1/card-fields`,
card_fields.py), so the card never passes through the portal's origin.

Process model: one gunicorn worker with threads is the intended shape,

    gunicorn -w 1 --threads 8 -b 127.0.0.1:8090 "services.payments.sandbox.app:create_app()"

(or `python -m services.payments.sandbox --port 8090` for the werkzeug dev server).
Threads matter: the slow test card holds its thread for SANDBOX_SLOW_SECONDS. State
is a SQLite file (SANDBOX_DATABASE_PATH, default var/sandbox-processor.sqlite3), so
tokens of saved cards outlive a restart, and its write transactions keep "one charge
per reference" true across threads (and would across workers too).
"""

from __future__ import annotations

from flask import Flask

from services.payments.sandbox import api
from services.payments.sandbox.config import SandboxConfig
from services.payments.sandbox.errors import SandboxError
from services.payments.sandbox.store import SandboxStore
from shared.errors import problem
from shared.web import create_base_app


class ProductionRefused(RuntimeError):
    pass


def create_app(config: SandboxConfig | None = None) -> Flask:
    config = config or SandboxConfig()
    if config.environment.strip().lower() == "production":
        raise ProductionRefused("The sandbox card processor is for development and tests only; "
                                "it refuses to start with PORTAL_ENV=production.")
    store = SandboxStore(config.database_path)

    def database():
        store.check()

    app = create_base_app(__name__, config, readiness=[database])
    app.testing = config.testing
    app.extensions["sandbox_store"] = store

    @app.errorhandler(SandboxError)
    def _sandbox_error(exc: SandboxError):
        # problem+json as everywhere in the suite, plus the `error` object processor clients read.
        return problem(exc.status, exc.slug, exc.title, exc.message, headers=exc.headers, errors=exc.errors,
                       extra={"error": {"type": exc.error_type, "code": exc.code, "message": exc.message}})

    app.register_blueprint(api.bp)
    return app
