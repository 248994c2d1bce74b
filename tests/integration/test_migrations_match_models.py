"""Each service's migrations build exactly the schema its models describe: a model changed without a
migration (or a migration without the model) shows here, not in production."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from shared.manage import services_with_migrations

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", services_with_migrations())
def test_the_migrated_schema_is_the_models_schema(migrated, service):
    metadata = importlib.import_module(f"services.{service}.models").Base.metadata
    engine = create_engine(migrated.database_url(service))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "compare_server_default": False,
                # tables the consumer tests create in identity's database for their handlers' effects
                "include_name": lambda name, kind, _parents: not (kind == "table" and name.startswith("test_"))})
            diffs = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diffs == [], f"{service}: models and migrations differ: {diffs}"
