from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


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
