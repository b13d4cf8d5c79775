from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Breach(SQLModel, table=True):
    __tablename__ = "breaches"

    id: str = Field(primary_key=True, max_length=40)
    aware_at: datetime = Field(sa_type=UTCDateTime)
    occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    nature: list[str] = Field(sa_column=Column(JSON, nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=16)
    data_subject_categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    approx_data_subjects: int | None = None
    record_categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    approx_records: int | None = None
    likely_consequences: str | None = Field(default=None, sa_column=Column(Text))
    measures_taken: str | None = Field(default=None, sa_column=Column(Text))
    measures_proposed: str | None = Field(default=None, sa_column=Column(Text))
    contact_point: str = Field(max_length=500)
    reported_by_client_id: str | None = Field(
        default=None,
        foreign_key="clients.id",
        index=True,
        max_length=40,
        description="Set when a client reported it to SCR (client → SCR).",
    )
    staff_acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    staff_acknowledged_by: str | None = Field(default=None, max_length=40)
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BreachNotice(SQLModel, table=True):
    """One affected client's part of a breach, with its own 72-hour timer."""

    __tablename__ = "breach_notices"
    __table_args__ = (
        Index("ix_breach_notices_breach_client", "breach_id", "client_id", unique=True),
    )

    id: str = Field(primary_key=True, max_length=40)
    breach_id: str = Field(foreign_key="breaches.id", max_length=40)
    client_id: str = Field(foreign_key="clients.id", index=True, max_length=40)
    notify_deadline: datetime = Field(sa_type=UTCDateTime)
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=40)
    deadline_missed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delay_reason: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_type=UTCDateTime)


class BreachUpdate(SQLModel, table=True):
    """Phased information (Art. 33(4)): what was added or changed, and when."""

    __tablename__ = "breach_updates"

    id: str = Field(primary_key=True, max_length=40)
    breach_id: str = Field(foreign_key="breaches.id", index=True, max_length=40)
    changes: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text))
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)


class DisclosureRequest(SQLModel, table=True):
    """A request from an authority to disclose a client's data (seed §2.5): the client is told
    at once, unless the law forbids it; then it is held until the prohibition is lifted."""

    __tablename__ = "disclosure_requests"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(foreign_key="clients.id", index=True, max_length=40)
    authority: str = Field(max_length=300)
    reference: str | None = Field(default=None, max_length=200)
    received_at: datetime = Field(sa_type=UTCDateTime)
    legally_binding: bool
    data_requested: str = Field(sa_column=Column(Text, nullable=False))
    notification_prohibited: bool
    prohibition_legal_basis: str | None = Field(default=None, max_length=1000)
    status: str = Field(max_length=16, description="held or notified")
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    prohibition_lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
