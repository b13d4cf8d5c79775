from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Client(SQLModel, table=True):
    __tablename__ = "clients"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    legal_name: str = Field(max_length=300)
    country: str = Field(max_length=2)
    calendar: str = Field(max_length=16)
    timezone: str = Field(max_length=64)
    contract_ref: str | None = Field(default=None, max_length=200)
    subprocessor_authorisation: str = Field(max_length=16)
    objection_window_days: int
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime)


_CURRENT_DPO = "role = 'dpo' AND ended_at IS NULL"


class Contact(SQLModel, table=True):
    """A contact the client communicated in writing (seed §2.3). Never deleted: a term ends."""

    __tablename__ = "contacts"
    __table_args__ = (
        # Seed §2.3: one DPO at a time; the database guards it against concurrent writes too.
        Index(
            "uq_contacts_current_dpo",
            "client_id",
            unique=True,
            sqlite_where=text(_CURRENT_DPO),
            postgresql_where=text(_CURRENT_DPO),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(foreign_key="clients.id", index=True, max_length=40)
    role: str = Field(max_length=16)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    phone: str | None = Field(default=None, max_length=50)
    communicated_at: datetime = Field(sa_type=UTCDateTime)
    document_ref: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    replaced_by_id: str | None = Field(default=None, max_length=40)
