"""a partial index on unpaid invoices (paid_at IS NULL): what is open is found without reading years of paid ones

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_invoices_open", "invoices", ["client_id", "due_date", "number"], unique=False,
                    postgresql_where=sa.text("paid_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_invoices_open", table_name="invoices", postgresql_where=sa.text("paid_at IS NULL"))
