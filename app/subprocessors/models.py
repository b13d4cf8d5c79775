from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Date, Index, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class SubProcessor(SQLModel, table=True):
    __tablename__ = "subprocessors"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    legal_entity: str = Field(max_length=300)
    service: str = Field(max_length=500)
    data_categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    processing_countries: list[str] = Field(sa_column=Column(JSON, nullable=False))
    transfer_mechanism: str = Field(max_length=16)
    dpf_certified: bool
    commercial_organisation: bool
    agreement_ref: str | None = Field(default=None, max_length=200)
    agreement_signed_on: date | None = Field(default=None, sa_column=Column(Date))
    status: str = Field(max_length=16)
    client_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class TransferConsent(SQLModel, table=True):
    """A client's explicit consent to a transfer outside adequate protection (seed §2.9)."""

    __tablename__ = "transfer_consents"
    __table_args__ = (
        Index("ix_transfer_consents_pair", "subprocessor_id", "client_id", unique=True),
    )

    id: str = Field(primary_key=True, max_length=40)
    subprocessor_id: str = Field(foreign_key="subprocessors.id", max_length=40)
    client_id: str = Field(foreign_key="clients.id", max_length=40)
    document_ref: str | None = Field(default=None, max_length=200)
    given_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)


class InitialAcceptance(SQLModel, table=True):
    """A sub-processor on the list annexed to the client's agreement at signature: the client
    accepted it then (seed §2.8), so no change notice is owed for it."""

    __tablename__ = "initial_acceptances"
    __table_args__ = (
        Index("ix_initial_acceptances_pair", "subprocessor_id", "client_id", unique=True),
    )

    id: str = Field(primary_key=True, max_length=40)
    subprocessor_id: str = Field(foreign_key="subprocessors.id", max_length=40)
    client_id: str = Field(foreign_key="clients.id", max_length=40)
    contract_ref: str = Field(max_length=200)
    recorded_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ChangeNotice(SQLModel, table=True):
    __tablename__ = "subprocessor_changes"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=16)
    subprocessor_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    effective_date: date = Field(sa_column=Column(Date, nullable=False))
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


class ChangeRecipient(SQLModel, table=True):
    """One affected client's part of a change notice: its deadline and its answer."""

    __tablename__ = "subprocessor_change_recipients"
    __table_args__ = (Index("ix_change_recipients_pair", "notice_id", "client_id", unique=True),)

    id: str = Field(primary_key=True, max_length=40)
    notice_id: str = Field(foreign_key="subprocessor_changes.id", max_length=40)
    client_id: str = Field(foreign_key="clients.id", index=True, max_length=40)
    requires_approval: bool
    notified_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="When the notice reached the client."
    )
    objection_deadline: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        description="From notified_at (CPC art. 641/642); null until the notice arrives.",
    )
    response: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    responded_by: str | None = Field(default=None, max_length=40)
