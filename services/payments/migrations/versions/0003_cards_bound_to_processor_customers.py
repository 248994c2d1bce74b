"""saved cards bound to the processor's customer for the client (payment method id); cards saved the old way
(a reusable token) kept until converted

Revision ID: 0003
Revises: 0002

What happens to existing rows:
- payment_methods: every card on file was saved by token. It stays, token included (now nullable), with two new
  nullable columns: the processor's customer and payment method. Nothing is sent to the processor here (a
  migration must not depend on it answering): the conversion (`PaymentsService.convert_legacy_cards`, run by the
  reconciliation beat, by `python -m services.payments.cli convert-cards` and before a legacy card is first
  charged) attaches each token to the client's customer, keeps the payment method and clears the token; a token
  the processor refuses removes the card for re-entry (payment_method.removed, reason `reentry_required`). A card
  removed before has its token cleared now: it is never charged again.
- payments: a settled payment's token is history and is cleared; only a payment still `pending` (its charge
  about to be sent during the deploy) keeps its own.
The downgrade keeps every card that still has its token; a card saved or converted since has none, which the
code before cannot charge: it is removed with payment_method.removed (`reentry_required`), as on re-entry.
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
LEGACY_TOKEN = "processor_token IS NOT NULL"
outbox = sa.table("outbox", sa.column("id", sa.String), sa.column("event_type", sa.String),
                  sa.column("envelope", JSONB), sa.column("headers", JSONB))


def upgrade() -> None:
    op.add_column("payment_methods", sa.Column("processor_customer_id", sa.String(length=100), nullable=True))
    op.add_column("payment_methods", sa.Column("processor_payment_method_id", sa.String(length=100), nullable=True))
    op.create_index("uq_payment_methods_processor_method", "payment_methods", ["processor_payment_method_id"],
                    unique=True, postgresql_where=sa.text(BOUND))
    op.alter_column("payment_methods", "processor_token", existing_type=sa.String(length=200), nullable=True)
    op.execute("UPDATE payment_methods SET processor_token = NULL WHERE removed_at IS NOT NULL")
    op.create_index("ix_payment_methods_legacy_token", "payment_methods", ["processor_token"],
                    postgresql_where=sa.text(LEGACY_TOKEN))
    op.alter_column("payments", "processor_token", existing_type=sa.String(length=200), nullable=True)
    op.execute("UPDATE payments SET processor_token = NULL WHERE status <> 'pending'")


def downgrade() -> None:
    conn = op.get_bind()
    removed = conn.execute(sa.text(
        "UPDATE payment_methods m SET removed_at = now(), is_default = false"
        " FROM payment_methods old WHERE old.id = m.id AND m.removed_at IS NULL AND m.processor_token IS NULL"
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
    op.drop_index("ix_payment_methods_legacy_token", table_name="payment_methods",
                  postgresql_where=sa.text(LEGACY_TOKEN))
    op.execute("UPDATE payment_methods SET processor_token = '' WHERE processor_token IS NULL")
    op.alter_column("payment_methods", "processor_token", existing_type=sa.String(length=200), nullable=False)
    op.execute("UPDATE payments SET processor_token = '' WHERE processor_token IS NULL")
    op.alter_column("payments", "processor_token", existing_type=sa.String(length=200), nullable=False)
    op.drop_index("uq_payment_methods_processor_method", table_name="payment_methods",
                  postgresql_where=sa.text(BOUND))
    op.drop_column("payment_methods", "processor_payment_method_id")
    op.drop_column("payment_methods", "processor_customer_id")
