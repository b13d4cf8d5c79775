"""subprocessors

Revision ID: 25e3720ca502
Revises: 7d0b6edecb70
Create Date: 2026-11-26 13:39:34.685120
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "25e3720ca502"
down_revision: str | None = "7d0b6edecb70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "subprocessor_changes",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subprocessor_ids", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subprocessor_changes")),
    )
    with op.batch_alter_table("subprocessor_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subprocessor_changes_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "subprocessors",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("legal_entity", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("processing_countries", sa.JSON(), nullable=False),
        sa.Column(
            "transfer_mechanism", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("dpf_certified", sa.Boolean(), nullable=False),
        sa.Column("commercial_organisation", sa.Boolean(), nullable=False),
        sa.Column("agreement_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("client_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subprocessors")),
    )
    with op.batch_alter_table("subprocessors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subprocessors_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "subprocessor_change_recipients",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("notice_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("objection_deadline", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("response", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("responded_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_subprocessor_change_recipients_client_id_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["subprocessor_changes.id"],
            name=op.f("fk_subprocessor_change_recipients_notice_id_subprocessor_changes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subprocessor_change_recipients")),
    )
    with op.batch_alter_table("subprocessor_change_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_change_recipients_pair", ["notice_id", "client_id"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_subprocessor_change_recipients_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "transfer_consents",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("subprocessor_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("document_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("given_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_transfer_consents_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["subprocessor_id"],
            ["subprocessors.id"],
            name=op.f("fk_transfer_consents_subprocessor_id_subprocessors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_consents")),
    )
    with op.batch_alter_table("transfer_consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transfer_consents_pair", ["subprocessor_id", "client_id"], unique=True
        )


def downgrade() -> None:

    with op.batch_alter_table("transfer_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_transfer_consents_pair")

    op.drop_table("transfer_consents")
    with op.batch_alter_table("subprocessor_change_recipients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subprocessor_change_recipients_client_id"))
        batch_op.drop_index("ix_change_recipients_pair")

    op.drop_table("subprocessor_change_recipients")
    with op.batch_alter_table("subprocessors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subprocessors_created_at"))

    op.drop_table("subprocessors")
    with op.batch_alter_table("subprocessor_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subprocessor_changes_created_at"))

    op.drop_table("subprocessor_changes")
