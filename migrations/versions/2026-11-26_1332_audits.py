"""audits

Revision ID: 7d0b6edecb70
Revises: c6a441efce17
Create Date: 2026-11-26 13:32:13.679303
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "7d0b6edecb70"
down_revision: str | None = "c6a441efce17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audits",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column(
            "auditor_organisation", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False
        ),
        sa.Column("auditor_person", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("auditor_independent", sa.Boolean(), nullable=False),
        sa.Column("proposed_start", sa.Date(), nullable=False),
        sa.Column("proposed_end", sa.Date(), nullable=False),
        sa.Column("emergency_basis", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("breach_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("court_order_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("earliest_start", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("scheduled_start", sa.Date(), nullable=True),
        sa.Column("scheduled_end", sa.Date(), nullable=True),
        sa.Column(
            "testing_organisation", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True
        ),
        sa.Column("test_window_start", sa.Date(), nullable=True),
        sa.Column("test_window_end", sa.Date(), nullable=True),
        sa.Column("nature_of_tests", sa.Text(), nullable=True),
        sa.Column("liability_release", sa.Boolean(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_audits_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audits")),
    )
    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audits_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audits_created_at"), ["created_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("audits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audits_created_at"))
        batch_op.drop_index(batch_op.f("ix_audits_client_id"))

    op.drop_table("audits")
