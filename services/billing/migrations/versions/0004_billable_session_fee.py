"""a billable session keeps the appointment type's service code, its outcome and whether it is a fee
(appointment.completed from scheduling: a session held, or a late cancel / no-show the practice charges for)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("billable_sessions", sa.Column("service_code", sa.String(length=20), nullable=True))
    op.add_column("billable_sessions", sa.Column("outcome", sa.String(length=20), server_default="completed",
                                                 nullable=False))
    op.add_column("billable_sessions", sa.Column("fee", sa.Boolean(), server_default=sa.text("false"),
                                                 nullable=False))


def downgrade() -> None:
    op.drop_column("billable_sessions", "fee")
    op.drop_column("billable_sessions", "outcome")
    op.drop_column("billable_sessions", "service_code")
