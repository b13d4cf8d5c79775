from __future__ import annotations

from datetime import datetime
from typing import Any

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
    purposes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    data_categories: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    data_subject_categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    processing_operations: list[str] = Field(sa_column=Column(JSON, nullable=False))
    security_measures: list[str] = Field(sa_column=Column(JSON, nullable=False))
    third_country_transfers_allowed: bool
    evidence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(max_length=16)
    submitted_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=40)
    accepted_incomplete_reason: str | None = Field(default=None, sa_column=Column(Text))
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    objected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    objection_reason: str | None = Field(default=None, sa_column=Column(Text))
