"""a partial index on a client's open payments (in flight, or succeeded and not yet on billing's ledger): Pay Now
weighs what is already on its way without reading the client's whole payment history

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'processing') OR (status = 'succeeded' AND posted_at IS NULL)"


def upgrade() -> None:
    op.create_index("ix_payments_open", "payments", ["client_id"], unique=False, postgresql_where=sa.text(OPEN))


def downgrade() -> None:
    op.drop_index("ix_payments_open", table_name="payments", postgresql_where=sa.text(OPEN))
