"""Alembic environment for messaging's own database."""

from services.messaging.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
