from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


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
