"""instructions

Revision ID: 658d0512680d
Revises: 25e3720ca502
Create Date: 2026-11-26 13:44:33.205229
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "658d0512680d"
down_revision: str | None = "25e3720ca502"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "data_subject_requests",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("subject_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("due_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("completed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completion_evidence", sa.Text(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_data_subject_requests_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_subject_requests")),
    )
    with op.batch_alter_table("data_subject_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_subject_requests_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_data_subject_requests_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "instruction_versions",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("data_subject_categories", sa.JSON(), nullable=False),
        sa.Column("processing_operations", sa.JSON(), nullable=False),
        sa.Column("security_measures", sa.JSON(), nullable=False),
        sa.Column("third_country_transfers_allowed", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("submitted_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("superseded_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("objected_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("objection_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_instruction_versions_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruction_versions")),
    )
    with op.batch_alter_table("instruction_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_instruction_versions_number", ["client_id", "version"], unique=True
        )

    op.create_table(
        "security_exceptions",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("nature", sa.Text(), nullable=False),
        sa.Column("starts_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("impact_analysis", sa.Text(), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_security_exceptions_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_exceptions")),
    )
    with op.batch_alter_table("security_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_exceptions_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_security_exceptions_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("security_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_exceptions_created_at"))
        batch_op.drop_index(batch_op.f("ix_security_exceptions_client_id"))

    op.drop_table("security_exceptions")
    with op.batch_alter_table("instruction_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_instruction_versions_number")

    op.drop_table("instruction_versions")
    with op.batch_alter_table("data_subject_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_subject_requests_created_at"))
        batch_op.drop_index(batch_op.f("ix_data_subject_requests_client_id"))

    op.drop_table("data_subject_requests")
