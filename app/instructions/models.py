from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class InstructionVersion(SQLModel, table=True):
    """A version of a client's written instructions. Append-only: never edited in place."""

    __tablename__ = "instruction_versions"
    __table_args__ = (Index("ix_instruction_versions_number", "client_id", "version", unique=True),)

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(foreign_key="clients.id", max_length=40)
    version: int
    purposes: list = Field(sa_column=Column(JSON, nullable=False))
    data_categories: list = Field(sa_column=Column(JSON, nullable=False))
    data_subject_categories: list = Field(sa_column=Column(JSON, nullable=False))
    processing_operations: list = Field(sa_column=Column(JSON, nullable=False))
    security_measures: list = Field(sa_column=Column(JSON, nullable=False))
    third_country_transfers_allowed: bool
    evidence: dict | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(max_length=16)
    submitted_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=40)
    accepted_incomplete_reason: str | None = Field(default=None, sa_column=Column(Text))
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    objected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    objection_reason: str | None = Field(default=None, sa_column=Column(Text))


class SecurityException(SQLModel, table=True):
    """A written exception to the agreed security measures (seed §2.3)."""

    __tablename__ = "security_exceptions"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(foreign_key="clients.id", index=True, max_length=40)
    nature: str = Field(sa_column=Column(Text, nullable=False))
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    impact_analysis: str = Field(sa_column=Column(Text, nullable=False))
    requested_by: str = Field(max_length=200)
    status: str = Field(max_length=16)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text))
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)


class DataSubjectRequest(SQLModel, table=True):
    """A client's order to act on a data subject's data (seed §2.5)."""

    __tablename__ = "data_subject_requests"

    id: str = Field(primary_key=True, max_length=40)
    client_id: str = Field(foreign_key="clients.id", index=True, max_length=40)
    kind: str = Field(max_length=16)
    subject_ref: str = Field(max_length=200)
    details: str | None = Field(default=None, sa_column=Column(Text))
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=16)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completion_evidence: str | None = Field(default=None, sa_column=Column(Text))
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
