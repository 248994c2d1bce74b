"""ended sessions found fast (the revoked-sessions list), and the mail outbox (mail leaves through it)

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Wakes the mail relay at commit (as the events' outbox does its relay); per statement, so a transaction that
# inserted no mail notifies all the same: a password reset for an unknown address costs what a known one does.
NOTIFY_MAIL_SQL = """
CREATE OR REPLACE FUNCTION mail_outbox_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('mail_outbox', '');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER mail_outbox_notify AFTER INSERT ON mail_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION mail_outbox_notify();
"""


def upgrade() -> None:
    op.create_index("ix_refresh_tokens_revoked", "refresh_tokens", ["revoked_at", "family_id"], unique=False,
                    postgresql_where=sa.text("revoked_at IS NOT NULL"))
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("context_encrypted", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index("ix_mail_outbox_pending", "mail_outbox", ["created_at"], unique=False,
                    postgresql_where=sa.text("status = 'pending'"))
    op.execute(NOTIFY_MAIL_SQL)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS mail_outbox_notify ON mail_outbox; DROP FUNCTION IF EXISTS mail_outbox_notify();")
    op.drop_index("ix_mail_outbox_pending", table_name="mail_outbox", postgresql_where=sa.text("status = 'pending'"))
    op.drop_table("mail_outbox")
    op.drop_index("ix_refresh_tokens_revoked", table_name="refresh_tokens",
                  postgresql_where=sa.text("revoked_at IS NOT NULL"))
