"""accounts.default_payment_method_id, learned from payment_method.default_changed

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("default_payment_method_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    op.drop_column("accounts", "default_payment_method_id")
