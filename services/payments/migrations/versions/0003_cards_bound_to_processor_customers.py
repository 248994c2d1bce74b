"""saved cards bound to the processor's customer for the client (payment method id), never a token: tokens are
single-use now, so a card saved before (a reusable token) is removed, and its client asked to enter it again

Revision ID: 0003
Revises: 0002

What happens to existing rows:
- payment_methods: every card still on file was saved by token and cannot be charged under the new rules (its
  token is spent by the first use, and a token was never bound to one client). It is removed (removed_at, not
  the default any more) with payment_method.removed (reason `reentry_required`) and, where it was the default,
  payment_method.default_changed (none): messaging tells the client, billing's AutoPay stops naming it. The
  token column is dropped, so no token stays in clear.
- payments: a settled payment's token is history and is cleared; only a payment still `pending` (its charge
  about to be sent during the deploy) keeps its own.
The downgrade brings the columns back, not the tokens (the cards stay removed).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.events import make_event, outbox_row

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BOUND = "processor_payment_method_id IS NOT NULL"
outbox = sa.table("outbox", sa.column("id", sa.String), sa.column("event_type", sa.String),
                  sa.column("envelope", JSONB), sa.column("headers", JSONB))


def upgrade() -> None:
    op.add_column("payment_methods", sa.Column("processor_customer_id", sa.String(length=100), nullable=True))
    op.add_column("payment_methods", sa.Column("processor_payment_method_id", sa.String(length=100), nullable=True))
    op.create_index("uq_payment_methods_processor_method", "payment_methods", ["processor_payment_method_id"],
                    unique=True, postgresql_where=sa.text(BOUND))
    conn = op.get_bind()
    removed = conn.execute(sa.text(
        "UPDATE payment_methods m SET removed_at = now(), is_default = false"
        " FROM payment_methods old WHERE old.id = m.id AND m.removed_at IS NULL"
        " RETURNING m.id, m.client_id, m.brand, m.last4, old.is_default AS was_default")).all()
    for row in removed:
        event = make_event("payment_method.removed", {
            "payment_method_id": row.id, "client_id": row.client_id, "brand": row.brand, "last4": row.last4,
            "reason": "reentry_required"}, producer="payments")
        conn.execute(sa.insert(outbox).values(outbox_row(event)))
        if row.was_default:
            changed = make_event("payment_method.default_changed", {"client_id": row.client_id,
                                                                    "payment_method_id": None}, producer="payments")
            conn.execute(sa.insert(outbox).values(outbox_row(changed)))
    op.drop_column("payment_methods", "processor_token")
    op.alter_column("payments", "processor_token", existing_type=sa.String(length=200), nullable=True)
    op.execute("UPDATE payments SET processor_token = NULL WHERE status <> 'pending'")


def downgrade() -> None:
    op.execute("UPDATE payments SET processor_token = '' WHERE processor_token IS NULL")
    op.alter_column("payments", "processor_token", existing_type=sa.String(length=200), nullable=False)
    op.add_column("payment_methods", sa.Column("processor_token", sa.String(length=200), nullable=False,
                                               server_default=""))
    op.alter_column("payment_methods", "processor_token", server_default=None)
    op.execute("UPDATE payment_methods SET removed_at = coalesce(removed_at, now()), is_default = false")
    op.drop_index("uq_payment_methods_processor_method", table_name="payment_methods",
                  postgresql_where=sa.text(BOUND))
    op.drop_column("payment_methods", "processor_payment_method_id")
    op.drop_column("payment_methods", "processor_customer_id")
