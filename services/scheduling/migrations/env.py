"""Alembic environment for scheduling's own database."""

from services.scheduling.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
