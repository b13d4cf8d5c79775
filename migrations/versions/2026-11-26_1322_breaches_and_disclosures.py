"""breaches_and_disclosures

Revision ID: c6a441efce17
Revises: 264e2d8ebed4
Create Date: 2026-11-26 13:22:10.205082
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "c6a441efce17"
down_revision: str | None = "264e2d8ebed4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "email_attempts",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("attempted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_attempts")),
    )
    with op.batch_alter_table("email_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_attempts_subject"), ["subject"], unique=False)

    op.create_table(
        "breaches",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("aware_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurred_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("nature", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("data_subject_categories", sa.JSON(), nullable=False),
        sa.Column("approx_data_subjects", sa.Integer(), nullable=True),
        sa.Column("record_categories", sa.JSON(), nullable=False),
        sa.Column("approx_records", sa.Integer(), nullable=True),
        sa.Column("likely_consequences", sa.Text(), nullable=True),
        sa.Column("measures_taken", sa.Text(), nullable=True),
        sa.Column("measures_proposed", sa.Text(), nullable=True),
        sa.Column("contact_point", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column(
            "reported_by_client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True
        ),
        sa.Column("staff_acknowledged_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "staff_acknowledged_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True
        ),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reported_by_client_id"],
            ["clients.id"],
            name=op.f("fk_breaches_reported_by_client_id_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaches")),
    )
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_breaches_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_breaches_reported_by_client_id"), ["reported_by_client_id"], unique=False
        )

    op.create_table(
        "disclosure_requests",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("authority", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("legally_binding", sa.Boolean(), nullable=False),
        sa.Column("data_requested", sa.Text(), nullable=False),
        sa.Column("notification_prohibited", sa.Boolean(), nullable=False),
        sa.Column(
            "prohibition_legal_basis", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("notified_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("prohibition_lifted_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_disclosure_requests_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disclosure_requests")),
    )
    with op.batch_alter_table("disclosure_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disclosure_requests_client_id"), ["client_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_disclosure_requests_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "breach_notices",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("breach_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("notify_deadline", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notified_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("escalated_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline_missed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delay_reason", sa.Text(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["breach_id"], ["breaches.id"], name=op.f("fk_breach_notices_breach_id_breaches")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_breach_notices_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_notices")),
    )
    with op.batch_alter_table("breach_notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_breach_notices_breach_client", ["breach_id", "client_id"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_breach_notices_client_id"), ["client_id"], unique=False
        )

    op.create_table(
        "breach_updates",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("breach_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["breach_id"], ["breaches.id"], name=op.f("fk_breach_updates_breach_id_breaches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_updates")),
    )
    with op.batch_alter_table("breach_updates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_breach_updates_breach_id"), ["breach_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("breach_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breach_updates_breach_id"))

    op.drop_table("breach_updates")
    with op.batch_alter_table("breach_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breach_notices_client_id"))
        batch_op.drop_index("ix_breach_notices_breach_client")

    op.drop_table("breach_notices")
    with op.batch_alter_table("disclosure_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disclosure_requests_created_at"))
        batch_op.drop_index(batch_op.f("ix_disclosure_requests_client_id"))

    op.drop_table("disclosure_requests")
    with op.batch_alter_table("breaches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breaches_reported_by_client_id"))
        batch_op.drop_index(batch_op.f("ix_breaches_created_at"))

    op.drop_table("breaches")
    with op.batch_alter_table("email_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_attempts_subject"))

    op.drop_table("email_attempts")
