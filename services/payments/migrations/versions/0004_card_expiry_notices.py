"""when payment_method.expiring was written for a card (once per card), and a partial index on the cards on file
not told yet, by expiry month

Revision ID: 0004
Revises: 0003

What happens to existing rows: every card has no notice yet (NULL). The first hourly tick after the deploy
(payments.card_expiry_notices) tells each card on file whose last good day is within the notice window, once; a
card further off is told when it gets there. The downgrade forgets who was told: the code before tells nobody.
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNNOTICED = "removed_at IS NULL AND expiry_notice_sent_at IS NULL"


def upgrade() -> None:
    op.add_column("payment_methods", sa.Column("expiry_notice_sent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_payment_methods_expiry_unnoticed", "payment_methods", ["exp_year", "exp_month"],
                    unique=False, postgresql_where=sa.text(UNNOTICED))


def downgrade() -> None:
    op.drop_index("ix_payment_methods_expiry_unnoticed", table_name="payment_methods",
                  postgresql_where=sa.text(UNNOTICED))
    op.drop_column("payment_methods", "expiry_notice_sent_at")
