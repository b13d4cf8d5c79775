from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class Audit(SQLModel, table=True):
    __tablename__ = "audits"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(foreign_key="clients.id", index=True, max_length=40)
    kind: str = Field(max_length=24)
    scope: str = Field(sa_column=Column(Text, nullable=False))
    auditor_organisation: str = Field(max_length=300)
    auditor_person: str | None = Field(default=None, max_length=200)
    auditor_independent: bool
    proposed_start: date = Field(sa_column=Column(Date, nullable=False))
    proposed_end: date = Field(sa_column=Column(Date, nullable=False))
    emergency_basis: str = Field(max_length=24)
    breach_id: str | None = Field(default=None, max_length=40)
    court_order_ref: str | None = Field(default=None, max_length=200)
    court_name: str | None = Field(default=None, max_length=300)
    court_order_date: date | None = Field(default=None, sa_column=Column(Date))
    court_order_verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    court_order_verified_by: str | None = Field(default=None, max_length=40)
    received_at: datetime = Field(sa_type=UTCDateTime)
    earliest_start: date = Field(sa_column=Column(Date, nullable=False))
    status: str = Field(max_length=24)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
    scheduled_start: date | None = Field(default=None, sa_column=Column(Date))
    scheduled_end: date | None = Field(default=None, sa_column=Column(Date))
    testing_organisation: str | None = Field(default=None, max_length=300)
    test_window_start: date | None = Field(default=None, sa_column=Column(Date))
    test_window_end: date | None = Field(default=None, sa_column=Column(Date))
    nature_of_tests: str | None = Field(default=None, sa_column=Column(Text))
    liability_release: bool | None = None
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(sa_type=UTCDateTime)
