from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class ProcessorProfile(SQLModel, table=True):
    """The processor's own details (Art. 30(2)(a), 32(1)), one row per version: a change adds a
    version, previous ones are kept."""

    __tablename__ = "processor_profiles"

    version: int = Field(primary_key=True)
    name: str = Field(max_length=300)
    address: str | None = Field(default=None, max_length=1000)
    representative: str | None = Field(default=None, max_length=1000)
    privacy_contact_name: str | None = Field(default=None, max_length=200)
    privacy_contact_email: str | None = Field(default=None, max_length=320)
    privacy_contact_is_dpo: bool = False
    security_measures: str | None = Field(default=None, sa_column=Column(Text))
    source: str | None = Field(default=None, max_length=500)
    created_by: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
